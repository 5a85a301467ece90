"""hierarchy_geojson: a viewport of a stored cluster hierarchy (cluster_hierarchy_create), as
a map sends it. README, "A stored cluster hierarchy" and "Using from Django"."""
from django.db import connections

from .viewport import map_bbox, map_zoom


def hierarchy_geojson(hierarchy_name, bbox, zoom, partition=None, using='default'):
    """The GeoJSON FeatureCollection, as JSON text, of cluster_viewport_geojson: the clusters of
    the hierarchy hierarchy_name (the handle cluster_hierarchy_create returned, e.g.
    'markers_clusters') at zoom whose centre lies in bbox, with cluster_geojson's
    properties plus cluster_id and expansion_zoom.

    bbox = (west, south, east, north) and zoom are taken as a map sends them (map_bbox,
    map_zoom: longitudes beyond ±180 wrapped, a span of 360 or more the world, zoom 11.5 is 11);
    ValueError for anything else. partition is the partition value of a hierarchy built with a
    partition column (None for one without). Every value is a bound parameter. Text rather than
    a dict: a view sends it as it is, without parsing and serialising it again."""
    west, south, east, north = map_bbox(bbox)
    zoom = map_zoom(zoom)
    # The SQL functions take south, west, north, east; the partition form only for a value.
    args = [hierarchy_name, south, west, north, east, float(zoom)]
    placeholders = '%s::regclass, %s::float8, %s::float8, %s::float8, %s::float8, %s::float8'
    if partition is not None:
        args.append(str(partition))
        placeholders += ', %s::text'
    with connections[using].cursor() as cursor:
        cursor.execute(f'SELECT cluster_viewport_geojson({placeholders})::text', args)
        return cursor.fetchone()[0]
