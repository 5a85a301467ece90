"""cluster_queryset: geocluster's cluster_agg over the rows of a Django queryset."""
import math

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import Polygon
from django.core.exceptions import EmptyResultSet
from django.db import connections, models

from .viewport import map_bbox, map_zoom

CLUSTER_COLUMNS = ('count', 'lat', 'lon', 'min_lat', 'min_lon', 'max_lat', 'max_lon', 'id')


def bbox_q(field_name, bbox):
    """A Q for the rows whose point lies in bbox = (west, south, east, north), degrees in
    EPSG:4326, edges included; west > east is a box across the antimeridian. bbox is taken as
    a map sends it (map_bbox: longitudes beyond ±180 wrapped, a span of 360 or more the world).

    It is ST_DWithin(geom, box, 0) rather than ST_Intersects: a cluster's bounds are a point
    or a line when its members share a position or a coordinate, and ST_Intersects finds
    nothing inside such a degenerate polygon. Both are exact and use the GiST index
    (the && operator alone is neither: it compares float4-rounded boxes)."""
    west, south, east, north = map_bbox(bbox)
    if west > east:
        return bbox_q(field_name, (west, south, 180, north)) | bbox_q(field_name, (-180, south, east, north))
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4326
    return models.Q(**{f'{field_name}__dwithin': (box, 0)})


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

    zoom is the map's zoom level (0..29; a fractional zoom is floored, see map_zoom) and
    radius_px the cluster radius in screen pixels at 256 px tiles (Leaflet, Google,
    OpenLayers); for 512 px tiles (MapLibre GL) pass zoom + 1.
    bbox = (west, south, east, north) keeps the rows in that box (see bbox_q), as a map sends
    it: longitudes beyond ±180 are wrapped and a span of 360 or more is the world (map_bbox);
    None keeps all.
    The point field is the model's geometry field (name it with geometry_field if there are
    several); any SRID works, cluster_agg transforms to EPSG:4326.

    The queryset is composed, not evaluated: its SQL becomes the derived table that the
    clustering query reads (FROM (<its SQL>) AS m), and its parameters stay bound parameters.
    A derived table is one scan of the rows, whatever the planner estimates; `pk IN (<its
    SQL>)` would be a join, and PostGIS estimates ST_DWithin(geom, box, 0) at a few rows
    whatever the box, which made that join a nested loop over two scans of the table."""
    if isinstance(zoom, str) or not isinstance(zoom, (int, float)):
        raise ValueError(f'zoom must be a number in 0..29, got {zoom!r}')
    zoom = map_zoom(zoom)
    if isinstance(radius_px, bool) or not isinstance(radius_px, (int, float)) \
            or not (0 < radius_px < math.inf):
        raise ValueError(f'radius_px must be a positive number, got {radius_px!r}')
    model = queryset.model
    field = _geometry_field(model, geometry_field)
    if bbox is not None:
        queryset = queryset.filter(bbox_q(field.name, bbox))
    if not queryset.query.is_sliced:
        queryset = queryset.order_by()  # an ORDER BY in the derived table is wasted work
    connection = connections[queryset.db]
    try:
        # sql_with_params() would compile for the default database; this is the same for any.
        inner_sql, inner_params = queryset.values('pk', field.name).query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # e.g. filter(pk__in=[]): Django knows there is no row
        return []
    pk = model._meta.pk
    pk_target = getattr(pk, 'target_field', pk)  # a one-to-one primary key
    id_arg = ', m.gc_pk::bigint' if isinstance(pk_target, models.IntegerField) else ''
    # The column list names the derived table's first two columns, the pk and the point,
    # whatever the ORM called them.
    sql = (f'SELECT {", ".join(f"c.{c}" for c in CLUSTER_COLUMNS)} '
           f'FROM unnest((SELECT cluster_agg(m.gc_geom, %s::int, %s::float8{id_arg}) '
           f'FROM ({inner_sql}) AS m(gc_pk, gc_geom))) AS c')
    with connection.cursor() as cursor:
        cursor.execute(sql, [zoom, float(radius_px), *inner_params])
        return [dict(zip(CLUSTER_COLUMNS, row)) for row in cursor.fetchall()]
