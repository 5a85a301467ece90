"""geocluster for Django: model fields for the quadkey and geohash types, and
cluster_queryset() to cluster a queryset's points in the database, hierarchy_geojson() to read
a viewport of a stored cluster hierarchy.

Needs only Django (GeoDjango on the PostGIS backend for cluster_queryset and bbox_q) and a
database with CREATE EXTENSION geocluster_postgis CASCADE. README, "Using from Django".
"""
from .fields import GeohashField, QuadkeyField
from .hierarchy import hierarchy_geojson
from .viewport import map_bbox, map_zoom

__all__ = ['QuadkeyField', 'GeohashField', 'cluster_queryset', 'bbox_q', 'map_bbox', 'map_zoom',
           'hierarchy_geojson']


def __getattr__(name):
    # GeoDjango loads GDAL and GEOS when imported: only the query helpers need it, so a
    # project that uses just the fields does not.
    if name in ('cluster_queryset', 'bbox_q'):
        from . import query
        return getattr(query, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
