"""The optional module python/geocluster_django: QuadkeyField, GeohashField, cluster_queryset."""
import math

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DataError, connection, transaction
from django.db.models.expressions import RawSQL
from django.test import TestCase

from geocluster_django import QuadkeyField, bbox_q, cluster_queryset, map_bbox, map_zoom
from markers.models import Marker, Region

from .base import MarkerTestCase
from .data import EIFFEL_TOWER, EUROPE, PACIFIC, WORLD, py_quadkey
from .test_recipes import cluster_rows

TILES = ('', '0', '03', '031', '0313', '03130', '1', '12', '1202', '3333')
GEOHASHES = ('u', 'u0', 'u09', 'u09t', 'u09tv', 'ezs4', 'gcpv')


class FieldTests(TestCase):

    @classmethod
    def setUpTestData(cls):
        Region.objects.bulk_create([Region(name=f'tile {t}', tile=t) for t in TILES]
                                   + [Region(name=f'geohash {g}', tile='0', geohash=g) for g in GEOHASHES])

    def test_text_in_text_out(self):
        region = Region.objects.create(name='Paris', tile='1202', geohash='u09t')
        region.refresh_from_db()
        self.assertEqual((region.tile, region.geohash), ('1202', 'u09t'))
        self.assertEqual(Region.objects.get(name='tile ').tile, '')  # the whole world
        with connection.cursor() as cursor:
            cursor.execute('SELECT pg_typeof(tile)::text, pg_typeof(geohash)::text FROM markers_region LIMIT 1')
            self.assertEqual(cursor.fetchone(), ('quadkey', 'geohash'))

    def test_the_database_cell_of_a_point(self):
        lon, lat = EIFFEL_TOWER
        with connection.cursor() as cursor:
            cursor.execute('SELECT quadkey(%s, %s, 12)', [lat, lon])
            [tile] = cursor.fetchone()
        self.assertEqual(tile, py_quadkey(lat, lon, 12))
        region = Region.objects.create(name='Eiffel', tile=tile)
        self.assertEqual(Region.objects.get(tile=py_quadkey(lat, lon, 12)), region)

    def test_cell_lookups(self):
        def tiles(**lookup):
            return set(Region.objects.filter(name__startswith='tile', **lookup).values_list('tile', flat=True))
        for cell in ('', '03', '031', '0313', '1', '2'):
            with self.subTest(cell=cell):
                self.assertEqual(tiles(tile__contained_by=cell), {t for t in TILES if t.startswith(cell)})
                self.assertEqual(tiles(tile__contains=cell), {t for t in TILES if cell.startswith(t)})
                self.assertEqual(tiles(tile__overlap=cell),
                                 {t for t in TILES if t.startswith(cell) or cell.startswith(t)})
        self.assertEqual(tiles(tile__in=['03', '3333', '2']), {'03', '3333'})
        self.assertEqual(tiles(tile__gt='1'), {'12', '1202', '3333'})
        geohashes = Region.objects.filter(geohash__contained_by='u0').values_list('geohash', flat=True)
        self.assertEqual(set(geohashes), {g for g in GEOHASHES if g.startswith('u0')})

    def test_value_order_is_text_order(self):
        ordered = Region.objects.filter(name__startswith='tile').order_by('tile').values_list('tile', flat=True)
        self.assertEqual(list(ordered), sorted(TILES))
        ordered = Region.objects.exclude(geohash=None).order_by('geohash').values_list('geohash', flat=True)
        self.assertEqual(list(ordered), sorted(GEOHASHES))

    def test_bad_values(self):
        for field, values in (('tile', ('4', '01a', '0' * 30, ' 0', 12)),
                              ('geohash', ('a', 'i', 'l', 'o', 'U09', 'u' * 13, 7))):
            for value in values:
                with self.subTest(field=field, value=value):
                    region = Region(**{'name': 'bad', 'tile': '0', field: value})
                    with self.assertRaises(ValidationError):
                        region.full_clean()
                    with self.assertRaises((ValueError, TypeError)):
                        Region.objects.filter(**{field: value}).exists()
        # What the field refuses, the database refuses too (22P02).
        with self.assertRaises(DataError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO markers_region (name, tile) VALUES ('bad', '4')")


class CellColumnTests(MarkerTestCase):
    """Marker.cell, the generated column, read and filtered through QuadkeyField."""

    def test_read_and_drill_down(self):
        # README snippet: cell_annotation
        markers = Marker.objects.annotate(cell=RawSQL('markers.qk', (), output_field=QuadkeyField()))
        page = Paginator(markers.filter(cell__contained_by='1202').order_by('id'), 20).page(1)
        # README snippet end
        expected = sorted(pk for pk, lon, lat, _, _ in self.points if py_quadkey(lat, lon, 4) == '1202')
        self.assertGreater(len(expected), 20)
        self.assertEqual([m.pk for n in page.paginator.page_range for m in page.paginator.page(n)], expected)
        for marker in page:
            self.assertEqual(marker.cell[:16], py_quadkey(marker.geom.y, marker.geom.x, 16))


class ClusterQuerysetTests(MarkerTestCase):

    def test_counts(self):
        for bbox in (None, EUROPE, PACIFIC, WORLD):
            expected = len(self.python_ids(bbox))
            if bbox:
                self.assertEqual(Marker.objects.filter(bbox_q('geom', bbox)).count(), expected)
            for zoom in (0, 3, 7, 12):
                with self.subTest(bbox=bbox, zoom=zoom):
                    clusters = cluster_queryset(Marker.objects.all(), zoom, bbox)
                    self.assertEqual(sum(c['count'] for c in clusters), expected)
                    self.assertEqual(len({c['id'] for c in clusters}), len(clusters))
                    for c in clusters:
                        self.assertEqual(set(c), {'count', 'lat', 'lon', 'min_lat', 'min_lon',
                                                  'max_lat', 'max_lon', 'id'})

    def test_filtered(self):
        # README snippet: cluster_queryset
        from geocluster_django import cluster_queryset
        clusters = cluster_queryset(Marker.objects.filter(category='cafe'), zoom=5, bbox=(-10, 35, 30, 60))
        # README snippet end
        cafes = self.python_ids(EUROPE, lambda category, created: category == 'cafe')
        self.assertEqual(sum(c['count'] for c in clusters), len(cafes))
        self.assertEqual(sum(c['count'] for c in clusters),
                         Marker.objects.filter(bbox_q('geom', EUROPE), category='cafe').count())
        # The same clusters as the recipe that composes the SQL by hand.
        recipe = cluster_rows(Marker.objects.filter(bbox_q('geom', EUROPE), category='cafe'), 5)
        self.assertEqual([(c['count'], c['lat'], c['lon']) for c in clusters], recipe)

    def test_single_markers_carry_their_id(self):
        singles = [c for c in cluster_queryset(Marker.objects.all(), 9, EUROPE) if c['count'] == 1]
        self.assertTrue(singles)
        geoms = dict(Marker.objects.filter(pk__in=[c['id'] for c in singles]).values_list('pk', 'geom'))
        for c in singles:
            self.assertEqual((c['min_lon'], c['min_lat']), (geoms[c['id']].x, geoms[c['id']].y))

    def test_what_maps_send(self):
        # Leaflet's toBBoxString() longitudes beyond ±180 and MapLibre's fractional zooms are
        # taken as the map means them (map_bbox, map_zoom): the same clusters as the normalised
        # request.
        everything = Marker.objects.all()
        for bbox, zoom, same_as in (((-215.156, -85.05, 234.84, 85.05), 1, ((-180, -85.05, 180, 85.05), 1)),
                                    ((150.86, -45.2, 207.11, -3.5), 4.0, ((150.86, -45.2, -152.89, -3.5), 4)),
                                    (EUROPE, 11.5, (EUROPE, 11)), (EUROPE, 5.99, (EUROPE, 5))):
            with self.subTest(bbox=bbox, zoom=zoom):
                self.assertEqual(cluster_queryset(everything, zoom, bbox), cluster_queryset(everything, *reversed(same_as)))
        self.assertEqual(map_bbox('-215.156,-85.05,234.84,85.05'.split(',')), (-180.0, -85.05, 180.0, 85.05))
        west, south, east, north = map_bbox('150.86,-45.2,207.11,-3.5'.split(','))
        self.assertEqual((west, south, north), (150.86, -45.2, -3.5))
        self.assertAlmostEqual(east, -152.89, places=9)
        self.assertEqual(map_bbox((-10, -95, 30, 95)), (-10.0, -90.0, 30.0, 90.0))  # poles, not 85.05
        self.assertEqual(map_bbox((170, 0, -170, 1)), (170.0, 0.0, -170.0, 1.0))    # as it was
        self.assertEqual(map_bbox((0, 0, 180, 1)), (0.0, 0.0, 180.0, 1.0))          # 180 kept
        self.assertEqual(map_bbox((179.5, 0, 540, 1)), (-180.0, 0.0, 180.0, 1.0))   # 360.5 wide
        self.assertEqual((map_zoom('11.5'), map_zoom(0.2), map_zoom('29.9')), (11, 0, 29))

    def test_parameters_stay_bound(self):
        for category in ("cafe'; DROP TABLE markers; --", "x' OR '1'='1"):
            with self.subTest(category=category):
                self.assertEqual(cluster_queryset(Marker.objects.filter(category=category), 3), [])
        self.assertEqual(Marker.objects.count(), len(self.points))

    def test_radius(self):
        counts = [len(cluster_queryset(Marker.objects.all(), 4, radius_px=r)) for r in (20, 60, 200)]
        self.assertGreater(counts[0], counts[1])
        self.assertGreater(counts[1], counts[2])
        self.assertEqual(sum(c['count'] for c in cluster_queryset(Marker.objects.all(), 4, radius_px=0.5)),
                         len(self.points))

    def test_sliced_and_distinct_querysets(self):
        # The derived table is the queryset's own SQL, LIMIT and DISTINCT included.
        latest = Marker.objects.order_by('-created')[:100]
        self.assertEqual(sum(c['count'] for c in cluster_queryset(latest, 5)), 100)
        distinct = Marker.objects.filter(category__in=['cafe', 'bar']).distinct()
        self.assertEqual(sum(c['count'] for c in cluster_queryset(distinct, 5)), distinct.count())

    def test_nothing_to_cluster(self):
        self.assertEqual(cluster_queryset(Marker.objects.filter(pk__in=[]), 5), [])
        self.assertEqual(cluster_queryset(Marker.objects.all(), 5, (-150, -60, -149, -59)), [])

    def test_bad_arguments(self):
        everything = Marker.objects.all()
        for kwargs in ({'zoom': -1}, {'zoom': 30}, {'zoom': -0.5}, {'zoom': math.nan}, {'zoom': True}, {'zoom': '3'},
                       {'zoom': 3, 'radius_px': 0}, {'zoom': 3, 'radius_px': -5},
                       {'zoom': 3, 'radius_px': math.nan}, {'zoom': 3, 'radius_px': math.inf},
                       {'zoom': 3, 'bbox': (0, 0, 1)}, {'zoom': 3, 'bbox': ('a', 0, 1, 1)},
                       {'zoom': 3, 'bbox': (0, 10, 1, 5)}, {'zoom': 3, 'bbox': (0, 91, 1, 95)},
                       {'zoom': 3, 'bbox': (0, math.nan, 1, 1)}):
            with self.subTest(**kwargs):
                with self.assertRaises(ValueError):
                    cluster_queryset(everything, **kwargs)
        with self.assertRaisesMessage(ValueError, 'Region has no geometry field'):
            cluster_queryset(Region.objects.all(), 3)
