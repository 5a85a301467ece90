"""The use case: a Django social network with 28,000+ users whose map client should deal only
with 10-50 markers per request and zoom level. The README's shortest path, the /clusters view,
on 28,000 users, with a 1280x800 px map centred on cities at zoom levels from the world to
the street; and the plans of its query at every zoom."""
import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from geocluster_django import cluster_queryset
from markers.models import Marker

from .base import MarkerTestCase
from .data import CITIES, screen_bbox
from .test_recipes import markers_in

TABLE = Marker._meta.db_table


def scans_of(node, table):
    """The plan nodes under node (itself included, init plans and subplans too) that read table."""
    found = [node] if node.get('Relation Name') == table else []
    for child in node.get('Plans', ()):
        found += scans_of(child, table)
    return found


def nested_loops_over_two_scans(node, table):
    """Nested Loop nodes with the table read on both sides: the quadratic plan."""
    found = []
    if node['Node Type'] == 'Nested Loop' and sum(bool(scans_of(c, table)) for c in node.get('Plans', ())) >= 2:
        found.append(node)
    for child in node.get('Plans', ()):
        found += nested_loops_over_two_scans(child, table)
    return found


class SocialNetworkTests(MarkerTestCase):
    total = 28000
    fast_load = True

    def test_at_most_50_markers_per_request(self):
        self.assertGreaterEqual(Marker.objects.count(), 28000)
        for name, lat, lon, *_ in CITIES[:3] + CITIES[-1:]:
            for zoom in (1, 4, 8, 10, 11, 12, 14):  # the densest are 10 to 12
                box = screen_bbox(lat, lon, zoom)
                with self.subTest(city=name, zoom=zoom):
                    response = self.client.get('/clusters', {'bbox': ','.join(map(repr, box)), 'zoom': zoom})
                    counts = [markers_in(f) for f in response.json()['features']]
                    self.assertLessEqual(len(counts), 50)
                    self.assertEqual(sum(counts), len(self.python_ids(box)))

    def test_the_radius_sets_the_number(self):
        # The view's 120 px against cluster_agg's default 60 px, where the map is dense.
        name, lat, lon, *_ = CITIES[0]
        box = screen_bbox(lat, lon, 11)
        clusters = {r: cluster_queryset(Marker.objects.all(), 11, box, radius_px=r) for r in (60, 120)}
        self.assertLessEqual(len(clusters[120]), 50)
        self.assertGreater(len(clusters[60]), 100)
        self.assertEqual(sum(c['count'] for c in clusters[60]), sum(c['count'] for c in clusters[120]))

    def test_no_plan_scans_the_markers_twice(self):
        # PostGIS estimates ST_DWithin(geom, box, 0) at a few rows whatever the box: a query that
        # joined the viewport's rows back to the table (id IN (...)) became, depending on the
        # viewport, a nested loop over two scans of 28,000 rows (seconds, quadratic). The view
        # and cluster_queryset read the ORM's query as a derived table: one scan, at every zoom.
        # Viewports of a 1280x800 map on cities (one across the antimeridian), zooms 0 to 16.
        requests = []
        for name, lat, lon, *_ in (CITIES[0], CITIES[4], CITIES[12]):
            for zoom in range(17):
                requests.append((name, zoom, screen_bbox(lat, lon, zoom)))
        for name, zoom, box in requests:
            with CaptureQueriesContext(connection) as view:
                self.client.get('/clusters', {'bbox': ','.join(map(repr, box)), 'zoom': zoom})
            with CaptureQueriesContext(connection) as helper:
                cluster_queryset(Marker.objects.filter(category='cafe'), zoom, box)
            for source, captured in (('view', view.captured_queries), ('cluster_queryset', helper.captured_queries)):
                with self.subTest(source=source, city=name, zoom=zoom), connection.cursor() as cursor:
                    [query] = [q for q in captured if 'cluster_agg' in q['sql']]
                    cursor.execute('EXPLAIN (FORMAT JSON) ' + query['sql'])
                    [plan] = cursor.fetchone()[0]
                    plan = plan if isinstance(plan, dict) else json.loads(plan)
                    self.assertEqual(nested_loops_over_two_scans(plan['Plan'], TABLE), [])
                    self.assertEqual(len(scans_of(plan['Plan'], TABLE)), 1, json.dumps(plan, indent=1))
