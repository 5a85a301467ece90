from django.urls import path

from markers import views

urlpatterns = [
    path('clusters', views.clusters),
    path('map', views.map_clusters),
]
