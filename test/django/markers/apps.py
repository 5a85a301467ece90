from django.apps import AppConfig


class MarkersConfig(AppConfig):
    name = 'markers'
