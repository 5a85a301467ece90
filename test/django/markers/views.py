from django.contrib.gis.geos import Polygon
from django.db import connection
from django.db.models import Q
from django.http import HttpResponse, JsonResponse

from .models import Marker


# README snippet: clusters_view
def viewport(west, south, east, north):  # edges in; west > east crosses the antimeridian
    # dwithin 0, not intersects: exact for a box of zero width too, e.g. a cluster's bounds
    if west > east:
        return viewport(west, south, 180, north) | viewport(-180, south, east, north)
    return Q(geom__dwithin=(Polygon.from_bbox((west, south, east, north)), 0))


def clusters(request):  # GET /clusters?bbox=west,south,east,north&zoom=z[&category=c]
    try:
        west, south, east, north = (float(v) for v in request.GET['bbox'].split(','))
        zoom = int(request.GET['zoom'])
        if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south < north <= 90
                and 0 <= zoom <= 29):  # also False for NaN
            raise ValueError
    except (KeyError, ValueError):
        return JsonResponse({'error': 'expected bbox=west,south,east,north&zoom=0..29'}, status=400)
    markers = Marker.objects.filter(viewport(west, south, east, north))
    if 'category' in request.GET:
        markers = markers.filter(category=request.GET['category'])
    sql, params = markers.values('id').query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute('SELECT cluster_geojson(cluster_agg(geom, %s, 120, id))::text'  # 120 px
                       f' FROM markers_marker WHERE id IN ({sql})', [zoom, *params])
        return HttpResponse(cursor.fetchone()[0], content_type='application/json')
# README snippet end
