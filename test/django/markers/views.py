# README snippet: clusters_view
from django.db import connection
from django.http import HttpResponse, JsonResponse

from geocluster_django import bbox_q, hierarchy_geojson, map_bbox, map_zoom

from .models import Marker


def clusters(request):  # GET /clusters?bbox=west,south,east,north&zoom=z[&category=c]
    try:  # as maps send them: Leaflet's lon beyond ±180, MapLibre's zoom 11.5 (map_bbox, map_zoom)
        bbox = map_bbox(request.GET['bbox'].split(','))
        zoom = map_zoom(request.GET['zoom'])
    except (KeyError, ValueError):
        return JsonResponse({'error': 'expected bbox=west,south,east,north&zoom=0..29'}, status=400)
    markers = Marker.objects.filter(bbox_q('geom', bbox))  # west > east: across the antimeridian
    if 'category' in request.GET:
        markers = markers.filter(category=request.GET['category'])
    # The ORM's query as a derived table: one scan of the markers, never a join with them
    sql, params = markers.values('id', 'geom').query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute('SELECT cluster_geojson(cluster_agg(m.geom, %s, 120, m.id))::text'  # 120 px
                       f' FROM ({sql}) AS m', [zoom, *params])
        return HttpResponse(cursor.fetchone()[0], content_type='application/json')
# README snippet end


# README snippet: map_view
def map_clusters(request):  # GET /map?bbox=...&zoom=z[&category=c]: the hierarchy unless filtered
    if 'category' in request.GET:  # a filter: cluster_agg over the rows it selects
        return clusters(request)
    try:  # the whole table: one index range scan of the stored hierarchy (migration 0004)
        body = hierarchy_geojson('markers_clusters', request.GET['bbox'].split(','), request.GET['zoom'])
    except (KeyError, ValueError):
        return JsonResponse({'error': 'expected bbox=west,south,east,north&zoom=0..29'}, status=400)
    return HttpResponse(body, content_type='application/json')
# README snippet end
