"""cluster_queryset: geocluster's cluster_agg over the rows of a Django queryset."""
import math

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import Polygon
from django.core.exceptions import EmptyResultSet
from django.db import connections, models

CLUSTER_COLUMNS = ('count', 'lat', 'lon', 'min_lat', 'min_lon', 'max_lat', 'max_lon', 'id')


def bbox_q(field_name, bbox):
    """A Q for the rows whose point lies in bbox = (west, south, east, north), degrees in
    EPSG:4326, edges included; west > east is a box across the antimeridian.

    It is ST_DWithin(geom, box, 0) rather than ST_Intersects: a cluster's bounds are a point
    or a line when its members share a position or a coordinate, and ST_Intersects finds
    nothing inside such a degenerate polygon. Both are exact and use the GiST index
    (the && operator alone is neither: it compares float4-rounded boxes)."""
    west, south, east, north = bbox
    if west > east:
        return bbox_q(field_name, (west, south, 180, north)) | bbox_q(field_name, (-180, south, east, north))
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4326
    return models.Q(**{f'{field_name}__dwithin': (box, 0)})


def _check_bbox(bbox):
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(f'bbox must be (west, south, east, north), got {bbox!r}') from None
    # Comparisons are False for NaN, so NaN fails too.
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise ValueError(f'bbox needs longitudes in [-180, 180] and -90 <= south <= north <= 90, got {bbox!r}')
    return west, south, east, north


def _geometry_field(model, name):
    fields = [f for f in model._meta.concrete_fields if isinstance(f, GeometryField)]
    if name is not None:
        fields = [f for f in fields if f.name == name]
    if not fields:
        raise ValueError(f'{model.__name__} has no geometry field' + (f' {name!r}' if name else ''))
    if len(fields) > 1:
        raise ValueError(f'{model.__name__} has several geometry fields: pass geometry_field')
    if fields[0].geography:
        raise ValueError('cluster_queryset needs a geometry field, not a geography one')
    return fields[0]


def cluster_queryset(queryset, zoom, bbox=None, radius_px=60, geometry_field=None):
    """Clusters the rows of queryset for one zoom level, in one query; returns a list of dicts
    with the keys of geocluster's marker_cluster:

        count                       markers in the cluster
        lat, lon                    its centre (degrees)
        min_lat ... max_lon         the exact bounds of its members (min_lon > max_lon across 180)
        id                          the marker's pk when count == 1, else the smallest member pk
                                    (None for a model whose pk is not an integer)

    zoom is the map's zoom level (0..29) and radius_px the cluster radius in screen pixels at
    256 px tiles (Leaflet, Google, OpenLayers); for 512 px tiles (MapLibre GL) pass zoom + 1.
    bbox = (west, south, east, north) keeps the rows in that box (see bbox_q); None keeps all.
    The point field is the model's geometry field (name it with geometry_field if there are
    several); any SRID works, cluster_agg transforms to EPSG:4326.

    The queryset is composed, not evaluated: its SQL becomes a subquery of the clustering
    query and its parameters stay bound parameters."""
    if isinstance(zoom, bool) or not isinstance(zoom, int) or not 0 <= zoom <= 29:
        raise ValueError(f'zoom must be an integer in 0..29, got {zoom!r}')
    if isinstance(radius_px, bool) or not isinstance(radius_px, (int, float)) \
            or not (0 < radius_px < math.inf):
        raise ValueError(f'radius_px must be a positive number, got {radius_px!r}')
    model = queryset.model
    field = _geometry_field(model, geometry_field)
    if bbox is not None:
        queryset = queryset.filter(bbox_q(field.name, _check_bbox(bbox)))
    if not queryset.query.is_sliced:
        queryset = queryset.order_by()  # an ORDER BY in an IN (...) subquery is wasted work
    connection = connections[queryset.db]
    try:
        # sql_with_params() would compile for the default database; this is the same for any.
        inner_sql, inner_params = queryset.values('pk').query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # e.g. filter(pk__in=[]): Django knows there is no row
        return []
    qn = connection.ops.quote_name
    pk = model._meta.pk
    pk_target = getattr(pk, 'target_field', pk)  # a one-to-one primary key
    id_arg = f', t.{qn(pk.column)}::bigint' if isinstance(pk_target, models.IntegerField) else ''
    sql = (f'SELECT {", ".join(f"c.{c}" for c in CLUSTER_COLUMNS)} '
           f'FROM unnest((SELECT cluster_agg(t.{qn(field.column)}, %s::int, %s::float8{id_arg}) '
           f'FROM {qn(model._meta.db_table)} AS t WHERE t.{qn(pk.column)} IN ({inner_sql}))) AS c')
    with connection.cursor() as cursor:
        cursor.execute(sql, [zoom, float(radius_px), *inner_params])
        return [dict(zip(CLUSTER_COLUMNS, row)) for row in cursor.fetchall()]
