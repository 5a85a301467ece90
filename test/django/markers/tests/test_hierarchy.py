"""The two paths of GET /map (views.map_clusters): the stored hierarchy of migration 0004 for the
unfiltered map, cluster_agg (the /clusters view) for a filtered one; and the migration itself."""
import json

from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from geocluster_django import hierarchy_geojson
from markers.models import Marker

from .base import MarkerTestCase
from .data import EUROPE, PACIFIC, WORLD
from .test_recipes import markers_in

HIERARCHY = 'markers_clusters'


def viewport(box, zoom):
    """(count, cluster_id, lon, lat) of each row of cluster_viewport, the SQL reference: a
    cluster's centre, a single marker's own position (its bounds; the centre is clamped to Web
    Mercator's ±85.0511, as in cluster_agg's rows, where cluster_geojson draws the marker)."""
    west, south, east, north = box
    with connection.cursor() as cursor:
        cursor.execute('SELECT count, cluster_id, CASE WHEN count = 1 THEN min_lon ELSE lon END,'
                       ' CASE WHEN count = 1 THEN min_lat ELSE lat END FROM cluster_viewport(%s::regclass,'
                       ' %s::float8, %s::float8, %s::float8, %s::float8, %s::float8)',
                       [HIERARCHY, south, west, north, east, zoom])
        return cursor.fetchall()


def as_rows(features):
    return [(markers_in(f), f['properties'].get('cluster_id'), *f['geometry']['coordinates']) for f in features]


def in_category(category):
    return lambda c, created: c == category


class HierarchyViewTests(MarkerTestCase):
    hierarchy = True

    def get(self, bbox, zoom, **extra):
        bbox = bbox if isinstance(bbox, str) else ','.join(map(repr, bbox))
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get('/map', {'bbox': bbox, 'zoom': zoom, **extra})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response['Content-Type'], 'application/json')
        return response.json(), '\n'.join(q['sql'] for q in queries.captured_queries)

    def test_unfiltered_is_the_hierarchys_viewport(self):
        for box in (EUROPE, PACIFIC, WORLD):
            for zoom in (0, 3, 8, 16, 17):  # 17: beyond max_zoom, the single markers
                with self.subTest(box=box, zoom=zoom):
                    collection, sql = self.get(box, zoom)
                    self.assertIn('cluster_viewport_geojson', sql)
                    self.assertNotIn('cluster_agg', sql)
                    self.assertEqual(collection['type'], 'FeatureCollection')
                    rows = as_rows(collection['features'])
                    expected = viewport(box, zoom)
                    if box == WORLD:
                        self.assertGreater(len(expected), 0)
                    self.assertEqual([r[:2] for r in rows], [e[:2] for e in expected])
                    for (_, _, lon, lat), (_, _, e_lon, e_lat) in zip(rows, expected):
                        self.assertAlmostEqual(lon, e_lon, delta=1e-9)
                        self.assertAlmostEqual(lat, e_lat, delta=1e-9)

    def test_world_at_zoom_0_holds_every_marker(self):
        for bbox in (WORLD, '-215.156,-90,234.84,90'):
            collection, _ = self.get(bbox, 0)
            counts = [markers_in(f) for f in collection['features']]
            self.assertEqual(sum(counts), len(self.points))
            self.assertEqual(sum(counts), Marker.objects.count())
            if bbox == WORLD:  # every marker, beyond Web Mercator's ±85.05 too, in one cluster or few
                self.assertLessEqual(len(counts), 10)

    def test_filtered_is_cluster_agg(self):
        for category in ('museum', 'cafe'):
            for box in (EUROPE, PACIFIC):
                with self.subTest(category=category, box=box):
                    collection, sql = self.get(box, 5, category=category)
                    self.assertIn('cluster_agg', sql)
                    self.assertNotIn('cluster_viewport', sql)
                    counts = [markers_in(f) for f in collection['features']]
                    self.assertEqual(sum(counts), len(self.python_ids(box, in_category(category))))
                    self.assertEqual(sum(counts), Marker.objects.filter(category=category)
                                     .filter(id__in=self.python_ids(box)).count())
                    self.assertEqual(collection, self.client.get(
                        '/clusters', {'bbox': ','.join(map(repr, box)), 'zoom': 5, 'category': category}).json())

    def test_what_maps_send(self):
        # Leaflet's toBBoxString() past ±180 (the world repeating at zoom 1; a view across the
        # antimeridian, never west > east), MapLibre's fractional zoom: on both paths, the
        # answer of the normalised box and whole zoom.
        for bbox, zoom, box, whole in (
                ('-215.156,-80,234.84,80', '1', (-180.0, -80.0, 180.0, 80.0), 1),
                ('150.86,-30,207.11,10', '4', (150.86, -30.0, -152.89, 10.0), 4),
                ('150.86,-30,207.11,10', '11.5', (150.86, -30.0, -152.89, 10.0), 11),
                ('-10,35,30,60', '11.5', EUROPE, 11)):
            with self.subTest(bbox=bbox, zoom=zoom):
                collection, _ = self.get(bbox, zoom)
                self.assertEqual(collection, self.get(box, whole)[0])
                self.assertEqual([r[:2] for r in as_rows(collection['features'])],
                                 [e[:2] for e in viewport(box, whole)])
                filtered, sql = self.get(bbox, zoom, category='cafe')
                self.assertIn('cluster_agg', sql)
                self.assertEqual(filtered, self.get(box, whole, category='cafe')[0])
                self.assertEqual(sum(markers_in(f) for f in filtered['features']),
                                 len(self.python_ids(box, in_category('cafe'))))

    def test_helper(self):
        text = hierarchy_geojson(HIERARCHY, '150.86,-30,207.11,10'.split(','), '4.5')
        self.assertIsInstance(text, str)
        self.assertEqual(text, self.client.get('/map', {'bbox': '150.86,-30,207.11,10', 'zoom': 4}).content.decode())
        for bbox, zoom in (((0, 1, 1, 0), 3), ((0, 0, 1, 1), 30), ((0, 0, 1), 3), ((0, 0, 1, 1), 'nan')):
            with self.subTest(bbox=bbox, zoom=zoom), self.assertRaises(ValueError):
                hierarchy_geojson(HIERARCHY, bbox, zoom)
        # The name is a bound parameter: an odd one is a bad relation name (42602), not SQL.
        with self.assertRaises(Exception) as raised, transaction.atomic():
            hierarchy_geojson("x'); DROP TABLE markers; --", WORLD, 0)
        self.assertEqual(raised.exception.__cause__.pgcode, '42602')
        self.assertEqual(Marker.objects.count(), len(self.points))

    def test_helper_partition(self):
        # One hierarchy per category: the partition value is the last, bound, argument.
        with connection.cursor() as cursor:
            cursor.execute("SELECT cluster_hierarchy_create('markers', 'geom', 'id', 120, 16, 'category')::text")
            [[name]] = cursor.fetchall()
        for category in ('cafe', 'museum', "x' OR '1'='1"):
            with self.subTest(category=category):
                features = json.loads(hierarchy_geojson(name, WORLD, 0, partition=category))['features']
                self.assertEqual(sum(markers_in(f) for f in features), len(self.python_ids(None, in_category(category))))

    def test_bad_requests(self):
        for query in ({}, {'zoom': 3}, {'bbox': '0,0,1,1'}, {'bbox': '0,0,1', 'zoom': 3},
                      {'bbox': 'a,b,c,d', 'zoom': 3}, {'bbox': '0,0,1,1', 'zoom': 'nan'},
                      {'bbox': '0,0,1,1', 'zoom': 30}, {'bbox': '0,1,1,0', 'zoom': 3}):
            with self.subTest(query=query):
                response = self.client.get('/map', query)
                self.assertEqual(response.status_code, 400)
                self.assertIn('error', response.json())

    def test_writes_are_followed(self):
        # The hierarchy follows the model's writes in their transaction: a deleted marker is no
        # longer counted by the next viewport.
        Marker.objects.filter(pk=self.points[0][0]).delete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(count) FROM cluster_viewport(%s, -90, -180, 90, 180, 3)",
                           [HIERARCHY])
            self.assertEqual(cursor.fetchone()[0], len(self.points) - 1)
        self.assertEqual(Marker.objects.count(), len(self.points) - 1)


class HierarchyMigrationTests(TestCase):
    """Migration 0004 is reversible: back to 0003 drops the hierarchy, forward builds it again."""

    def exists(self):
        with connection.cursor() as cursor:
            cursor.execute('SELECT to_regclass(%s) IS NOT NULL', [HIERARCHY])
            return cursor.fetchone()[0]

    def test_reversible(self):
        self.assertTrue(self.exists())
        executor = MigrationExecutor(connection)
        executor.migrate([('markers', '0003_marker_lat_lon_qk')])
        self.assertFalse(self.exists())
        executor = MigrationExecutor(connection)
        executor.migrate([('markers', '0004_marker_hierarchy')])
        self.assertTrue(self.exists())
