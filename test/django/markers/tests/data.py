"""Test markers, and the Python-side references the tests check the database against.

The markers are deterministic (a seeded random.Random): members of a social network around
cities, a few spread over the world, and the cases that break naive code: co-located markers
(a cluster whose bounds are one point), markers exactly on a viewport's edges and just
outside them, markers on both sides of the antimeridian, and beyond Web Mercator's latitude
limit.
"""
import math
import random
from datetime import datetime, timedelta, timezone

from django.contrib.gis.geos import Point
from django.db import connection

from markers.models import Marker

CATEGORIES = ('cafe', 'bar', 'park', 'museum')
START = datetime(2024, 1, 1, tzinfo=timezone.utc)

# name, lat, lon, share of the markers, spread (degrees, one sigma)
CITIES = (
    ('London', 51.507, -0.128, 14, 0.3),
    ('Paris', 48.857, 2.352, 12, 0.25),
    ('Berlin', 52.520, 13.405, 8, 0.3),
    ('Madrid', 40.417, -3.704, 6, 0.4),
    ('New York', 40.713, -74.006, 12, 0.3),
    ('San Francisco', 37.775, -122.419, 6, 0.2),
    ('Sao Paulo', -23.550, -46.633, 6, 0.4),
    ('Lagos', 6.524, 3.379, 5, 0.3),
    ('Cairo', 30.044, 31.236, 5, 0.3),
    ('Mumbai', 19.076, 72.878, 6, 0.3),
    ('Tokyo', 35.680, 139.690, 8, 0.3),
    ('Sydney', -33.869, 151.209, 5, 0.3),
    ('Suva', -18.141, 178.441, 2, 1.0),     # Fiji: across the antimeridian
    ('Apia', -13.833, -171.760, 1, 0.5),    # Samoa, east of it
)
WORLDWIDE_SHARE = 4  # markers anywhere

# Viewports the tests use: (west, south, east, north)
EUROPE = (-10.0, 35.0, 30.0, 60.0)
PACIFIC = (170.0, -30.0, -165.0, 10.0)  # crosses the antimeridian
WORLD = (-180.0, -90.0, 180.0, 90.0)

EIFFEL_TOWER = (2.2945, 48.8584)  # lon, lat of CO_LOCATED markers
CO_LOCATED = 6
# Exactly on EUROPE's edges and corners (inside), and a hair outside them.
ON_EDGES = ((-10.0, 45.0), (30.0, 50.0), (5.0, 35.0), (5.0, 60.0), (30.0, 60.0), (-10.0, 35.0))
OUTSIDE_EDGES = ((-10.000000001, 45.0), (30.000000001, 50.0), (5.0, 34.999999999), (5.0, 60.000000001))
BEYOND_MERCATOR = ((15.0, 86.5), (-40.0, 89.9), (120.0, -88.0))  # clamped to the map's edge rows


def marker_rows(total, seed=805072, special=True):
    """(lon, lat, category, created) of about `total` markers (exactly total without special)."""
    rng = random.Random(seed)
    shares = sum(c[3] for c in CITIES) + WORLDWIDE_SHARE
    positions = []
    for _name, lat, lon, share, spread in CITIES:
        for _ in range(total * share // shares):
            positions.append((wrap_lon(rng.gauss(lon, spread)),
                              max(-89.9, min(89.9, rng.gauss(lat, spread)))))
    while len(positions) < total:
        positions.append((rng.uniform(-180, 180), math.degrees(math.asin(rng.uniform(-1, 1)))))
    if special:
        positions += [EIFFEL_TOWER] * CO_LOCATED
        positions += ON_EDGES + OUTSIDE_EDGES + BEYOND_MERCATOR
    return [(lon, lat, rng.choice(CATEGORIES), START + timedelta(minutes=rng.randrange(366 * 24 * 60)))
            for lon, lat in positions]


def load_markers(total=3000, **kwargs):
    """Saves the markers with bulk_create, the way an application would."""
    Marker.objects.bulk_create([Marker(geom=Point(lon, lat, srid=4326), category=category, created=created)
                                for lon, lat, category, created in marker_rows(total, **kwargs)],
                               batch_size=2000)


def load_markers_fast(total, **kwargs):
    """The same rows in one INSERT: GeoDjango spends about 0.2 ms a row in Python on
    bulk_create (a GEOS object and its EWKB per point), which 28,000 rows would feel."""
    columns = list(zip(*marker_rows(total, **kwargs)))
    with connection.cursor() as cursor:
        cursor.execute('INSERT INTO markers (geom, category, created)'
                       ' SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326), category, created'
                       ' FROM unnest(%s::float8[], %s::float8[], %s::text[], %s::timestamptz[])'
                       ' AS m(lon, lat, category, created)', [list(c) for c in columns])


def wrap_lon(lon):
    return (lon + 180.0) % 360.0 - 180.0


def in_box(lon, lat, box):
    """The reference for geocluster_django.bbox_q(): edges included, west > east across 180."""
    west, south, east, north = box
    if not south <= lat <= north:
        return False
    return west <= lon <= east if west <= east else (lon >= west or lon <= east)


def py_quadkey(lat, lon, zoom):
    """The Bing Maps tile system's quadkey of a point, written from its documentation: the
    reference the generated column and the drill-down by cell are checked against (away from
    tile edges, where two floating-point evaluations may disagree in the last bit)."""
    lat = max(-85.05112878, min(85.05112878, lat))
    n = 1 << zoom
    x = (lon + 180.0) / 360.0
    s = math.sin(math.radians(lat))
    y = 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)
    tx = min(n - 1, max(0, math.floor(x * n)))
    ty = min(n - 1, max(0, math.floor(y * n)))
    return ''.join(str(((tx >> i) & 1) | (((ty >> i) & 1) << 1)) for i in range(zoom - 1, -1, -1))


def screen_bbox(lat, lon, zoom, width=1280, height=800):
    """The (west, south, east, north) that a width x height px map centred on lat, lon shows
    at zoom (256 px tiles), as Leaflet's map.getBounds() gives it, longitudes wrapped."""
    world = 256 * 2 ** zoom
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * world

    def lat_at(py):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * min(max(py, 0), world) / world))))

    half_lon = width / 2 / world * 360
    west, east = (-180.0, 180.0) if half_lon >= 180 else (wrap_lon(lon - half_lon), wrap_lon(lon + half_lon))
    return west, lat_at(y + height / 2), east, lat_at(y - height / 2)
