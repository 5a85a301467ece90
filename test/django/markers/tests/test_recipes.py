"""The Django recipes of the README ("Using from Django"), each checked against a count that
does not go through geocluster: the ORM's count of the same filter and a Python count over
the fetched points. Code between `# README snippet: <name>` and `# README snippet end` is
quoted verbatim by the README (test_readme.py checks it)."""
import json
from datetime import datetime, timezone

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import connection
from django.db.models.expressions import RawSQL

from geocluster_django import bbox_q
from markers.models import Marker

from .base import MarkerTestCase
from .data import (CO_LOCATED, EIFFEL_TOWER, EUROPE, ON_EDGES, OUTSIDE_EDGES, PACIFIC, WORLD, in_box,
                   py_quadkey)


def markers_in(feature):
    """The markers a feature of the view stands for: a cluster's point_count, or 1 for a single
    marker, which carries no point_count (as supercluster's input points)."""
    return feature['properties'].get('point_count', 1)


# README snippet: cluster_rows
def cluster_rows(queryset, zoom):
    """(count, lat, lon) of each cluster of the queryset's markers, in one query."""
    sql, params = queryset.values('id', 'geom').query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute('SELECT c.count, c.lat, c.lon FROM unnest((SELECT cluster_agg(m.geom, %s, 60, m.id)'
                       f' FROM ({sql}) AS m)) AS c', [zoom, *params])
        return cursor.fetchall()
# README snippet end


def raw_clusters(zoom, west, south, east, north):
    # README snippet: raw
    clusters = Marker.objects.raw(
        'SELECT c.* FROM unnest((SELECT cluster_agg(geom, %s, 60, id) FROM markers'
        ' WHERE ST_DWithin(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326), 0))) AS c',
        [zoom, west, south, east, north])
    # README snippet end
    return list(clusters)


class RawViewportTests(MarkerTestCase):
    """Recipe 1: Marker.objects.raw() over cluster_agg, one object per cluster."""

    def test_counts_add_up_to_the_viewport(self):
        expected = Marker.objects.filter(bbox_q('geom', EUROPE)).count()
        self.assertEqual(expected, len(self.python_ids(EUROPE)))
        for zoom in (2, 4, 6, 10):
            with self.subTest(zoom=zoom):
                clusters = raw_clusters(zoom, *EUROPE)
                self.assertEqual(sum(c.count for c in clusters), expected)
                self.assertEqual(len({c.pk for c in clusters}), len(clusters))
        # The social network's map: a handful of markers for the client, not thousands.
        self.assertLessEqual(len(raw_clusters(4, *EUROPE)), 50)

    def test_the_primary_key_is_a_member(self):
        # c.id is the marker's id for a single marker and the smallest member id otherwise:
        # unique per cluster, so it serves as raw()'s primary key.
        clusters = raw_clusters(6, *EUROPE)
        singles = [c for c in clusters if c.count == 1]
        self.assertTrue(singles)
        positions = dict(Marker.objects.filter(pk__in=[c.pk for c in singles]).values_list('pk', 'geom'))
        for c in singles:
            self.assertAlmostEqual(positions[c.pk].x, c.lon, places=9)
            self.assertAlmostEqual(positions[c.pk].y, c.lat, places=9)
        for c in clusters:
            in_bounds = self.python_ids((c.min_lon, c.min_lat, c.max_lon, c.max_lat))
            self.assertIn(c.pk, in_bounds)
            if len(in_bounds) == c.count:  # then those are its members
                self.assertEqual(c.pk, min(in_bounds))

    def test_raw_needs_a_primary_key_column(self):
        clusters = 'unnest((SELECT cluster_agg(geom, 3) FROM markers)) AS c'
        with self.assertRaisesMessage(FieldDoesNotExist, 'Raw query must include the primary key'):
            list(Marker.objects.raw(f'SELECT c.count FROM {clusters}'))
        # row_number() makes ids that name no marker: enough to read the cluster columns, but a
        # model field (marker.category) would load from whichever marker has that id.
        clusters = list(Marker.objects.raw(f'SELECT row_number() OVER () AS id, c.count FROM {clusters}'))
        self.assertEqual([c.pk for c in clusters], list(range(1, len(clusters) + 1)))
        self.assertEqual(sum(c.count for c in clusters), Marker.objects.count())


class QuerysetTests(MarkerTestCase):
    """Recipe 2: cluster an ORM-filtered queryset by composing its SQL."""

    def test_filtered_queryset(self):
        # README snippet: cluster_filtered
        cafes = Marker.objects.filter(category='cafe', created__gte=datetime(2024, 7, 1, tzinfo=timezone.utc))
        clusters = cluster_rows(cafes, zoom=3)
        # README snippet end
        python = self.python_ids(where=lambda category, created: category == 'cafe'
                                 and created >= datetime(2024, 7, 1, tzinfo=timezone.utc))
        self.assertGreater(len(python), 100)
        self.assertEqual(cafes.count(), len(python))
        self.assertEqual(sum(count for count, lat, lon in clusters), len(python))

    def test_sliced_and_spatial_querysets(self):
        latest = Marker.objects.order_by('-created')[:100]
        self.assertEqual(sum(count for count, lat, lon in cluster_rows(latest, 5)), 100)
        pacific = Marker.objects.filter(bbox_q('geom', PACIFIC))
        self.assertEqual(sum(count for count, lat, lon in cluster_rows(pacific, 5)), len(self.python_ids(PACIFIC)))

    def test_parameters_are_bound_not_interpolated(self):
        Marker.objects.create(geom=Marker.objects.first().geom, category="O'Brien's",
                              created=datetime(2024, 1, 1, tzinfo=timezone.utc))
        total = Marker.objects.count()
        for category, expected in (("cafe'; DROP TABLE markers; --", 0),
                                   ("x' OR '1'='1", 0),
                                   ("x') OR true OR ('", 0),
                                   ("\\'; DELETE FROM markers; --", 0),
                                   ("cafe%s%%s", 0),
                                   ("O'Brien's", 1)):
            with self.subTest(category=category):
                markers = Marker.objects.filter(category=category)
                sql, params = markers.values('id').query.sql_with_params()
                self.assertNotIn(category, sql)
                self.assertIn(category, params)
                self.assertEqual(markers.count(), expected)
                self.assertEqual(sum(count for count, lat, lon in cluster_rows(markers, 3)), expected)
                response = self.client.get('/clusters', {'bbox': '-180,-90,180,90', 'zoom': 3, 'category': category})
                features = response.json()['features']
                self.assertEqual(sum(markers_in(f) for f in features), expected)
                self.assertIn('markers', connection.introspection.table_names())
                self.assertEqual(Marker.objects.count(), total)


class GeoJSONViewTests(MarkerTestCase):
    """Recipe 3: GET /clusters?bbox=west,south,east,north&zoom=z -> FeatureCollection."""

    def get(self, bbox, zoom, **extra):
        return self.client.get('/clusters', {'bbox': ','.join(map(str, bbox)), 'zoom': zoom, **extra})

    def test_feature_collection(self):
        for box in (EUROPE, PACIFIC, WORLD):
            for zoom in (1, 4, 8):
                with self.subTest(box=box, zoom=zoom):
                    with self.assertNumQueries(1):
                        response = self.get(box, zoom)
                    self.assertEqual(response.status_code, 200)
                    self.assertEqual(response['Content-Type'], 'application/json')
                    collection = json.loads(response.content)
                    self.assertEqual(collection['type'], 'FeatureCollection')
                    features = collection['features']
                    counts = [markers_in(f) for f in features]
                    self.assertEqual(sum(counts), Marker.objects.filter(bbox_q('geom', box)).count())
                    self.assertEqual(sum(counts), len(self.python_ids(box)))
                    positions = {pk: (lon, lat) for pk, lon, lat, _, _ in self.points}
                    for f in features:
                        self.assertEqual(f['geometry']['type'], 'Point')
                        lon, lat = f['geometry']['coordinates']
                        if 'point_count' not in f['properties']:
                            # A single marker: itself, at its stored position exactly.
                            self.assertEqual((lon, lat), positions[f['id']])
                            self.assertEqual(f['properties'], {})
                            self.assertNotIn('bbox', f)
                            continue
                        # A cluster's id lies above every marker id, below 2^53 (exact in JavaScript).
                        self.assertTrue(2 ** 52 <= f['id'] < 2 ** 53, f['id'])
                        self.assertIs(f['properties']['cluster'], True)
                        self.assertGreater(f['properties']['point_count'], 1)
                        # The centre is exact to 1e-12 degrees (src/core/cluster.hpp, contract 4).
                        self.assertTrue(any(in_box(lon + dx, lat + dy, box) for dx in (-1e-9, 0, 1e-9)
                                            for dy in (-1e-9, 0, 1e-9)), (lon, lat))
                        west, south, east, north = f['bbox']
                        self.assertTrue(in_box(west, south, box) and in_box(east, north, box))

    def test_category_filter(self):
        features = self.get(EUROPE, 5, category='museum').json()['features']
        self.assertEqual(sum(markers_in(f) for f in features),
                         Marker.objects.filter(bbox_q('geom', EUROPE), category='museum').count())

    def test_edges_are_included_and_exact(self):
        # ON_EDGES and CO_LOCATED in data.py: a box exactly around the co-located markers, and
        # a box whose edges pass through markers.
        inside = set(Marker.objects.filter(bbox_q('geom', EUROPE)).values_list('pk', flat=True))
        for pk, lon, lat, _, _ in self.points:
            if (lon, lat) in ON_EDGES:
                self.assertIn(pk, inside)
            if (lon, lat) in OUTSIDE_EDGES:
                self.assertNotIn(pk, inside)
        lon, lat = EIFFEL_TOWER
        features = self.get((lon - 1e-9, lat - 1e-9, lon + 1e-9, lat + 1e-9), 12).json()['features']
        self.assertEqual([markers_in(f) for f in features], [CO_LOCATED])

    def test_empty_viewport(self):
        self.assertEqual(self.get((-150.0, -60.0, -149.0, -59.0), 6).json(),
                         {'type': 'FeatureCollection', 'features': []})

    def test_what_maps_send(self):
        # Leaflet's map.getBounds().toBBoxString(): at a low zoom the world repeats and the
        # longitudes run past ±180; across the antimeridian it never sends west > east.
        # MapLibre sends fractional zooms. Each is the request of its normalised box and zoom.
        for bbox, zoom, same_as in (
                ('-215.156,-85.05,234.84,85.05', '1', ((-180, -85.05, 180, 85.05), 1)),
                ('150.86,-45.2,207.11,-3.5', '4', ((150.86, -45.2, -152.89, -3.5), 4)),
                ('-190.5,-30,-170.25,10', '5', ((169.5, -30, -170.25, 10), 5)),
                ('-10,35,30,60', '11.5', (EUROPE, 11)),
                ('-10,35,30,60', '4.999', (EUROPE, 4)),
                ('-10,-95,30,95', '3', ((-10, -90, 30, 90), 3))):
            with self.subTest(bbox=bbox, zoom=zoom):
                response = self.client.get('/clusters', {'bbox': bbox, 'zoom': zoom})
                self.assertEqual(response.status_code, 200)
                expected = self.get(*same_as)
                self.assertEqual(response.json(), expected.json())
                box, _ = same_as
                self.assertEqual(sum(markers_in(f) for f in response.json()['features']),
                                 len(self.python_ids(tuple(map(float, box)))))

    def test_bad_requests(self):
        for query in ({}, {'zoom': 3}, {'bbox': '0,0,1,1'}, {'bbox': '0,0,1', 'zoom': 3},
                      {'bbox': '0,0,1,1,2', 'zoom': 3}, {'bbox': 'a,b,c,d', 'zoom': 3},
                      {'bbox': '0,0,1,1', 'zoom': 'x'}, {'bbox': '0,0,1,1', 'zoom': 'nan'},
                      {'bbox': '0,0,1,1', 'zoom': -1}, {'bbox': '0,0,1,1', 'zoom': 30},
                      {'bbox': '0,0,1,1', 'zoom': '-0.5'}, {'bbox': '0,0,1,1', 'zoom': 'inf'},
                      {'bbox': 'nan,0,1,1', 'zoom': 3}, {'bbox': '0,0,inf,1', 'zoom': 3},
                      {'bbox': '0,1,1,0', 'zoom': 3}, {'bbox': '0,91,1,95', 'zoom': 3},
                      {'bbox': "0,0,1,1'; DROP TABLE markers; --", 'zoom': 3}):
            with self.subTest(query=query):
                response = self.client.get('/clusters', query)
                self.assertEqual(response.status_code, 400)
                self.assertIn('error', response.json())


class DrillDownTests(MarkerTestCase):
    """Recipe 4: the markers of one cluster, by its bounds or by a cell, a page at a time."""

    def test_by_bounds(self):
        clusters = raw_clusters(5, *EUROPE)
        boxes = {c.pk: (c.min_lon, c.min_lat, c.max_lon, c.max_lat) for c in clusters}
        alone = 0
        for cluster in clusters:
            # README snippet: drill_down_bounds
            from django.core.paginator import Paginator
            from geocluster_django import bbox_q
            members = Marker.objects.filter(
                bbox_q('geom', (cluster.min_lon, cluster.min_lat, cluster.max_lon, cluster.max_lat))).order_by('id')
            page = Paginator(members, 20).page(1)
            # README snippet end
            ids = [m.pk for n in page.paginator.page_range for m in page.paginator.page(n)]
            python = self.python_ids(boxes[cluster.pk])
            self.assertEqual(len(ids), len(set(ids)))
            self.assertEqual(set(ids), python)
            self.assertEqual(page.paginator.count, len(python))
            # The bounds hold every member, and the members of any cluster whose box they meet.
            self.assertGreaterEqual(len(python), cluster.count)
            if not any(self.boxes_meet(boxes[cluster.pk], box) for pk, box in boxes.items() if pk != cluster.pk):
                self.assertEqual(len(python), cluster.count)
                alone += 1
        self.assertGreater(alone, 3)

    @staticmethod
    def boxes_meet(a, b):
        return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]

    def test_co_located_markers(self):
        # A cluster of markers at one place has a point for bounds.
        lon, lat = EIFFEL_TOWER
        [cluster] = [c for c in raw_clusters(18, *EUROPE) if (c.min_lon, c.max_lat) == (lon, lat)]
        self.assertEqual((cluster.count, cluster.max_lon, cluster.min_lat), (CO_LOCATED, lon, lat))
        members = Marker.objects.filter(bbox_q('geom', (cluster.min_lon, cluster.min_lat, cluster.max_lon, cluster.max_lat)))
        self.assertEqual(members.count(), CO_LOCATED)

    def test_by_cell(self):
        lon, lat = EIFFEL_TOWER
        for zoom in (4, 7, 10):
            cell = py_quadkey(lat, lon, zoom)
            expected = {pk for pk, x, y, _, _ in self.points if py_quadkey(y, x, zoom) == cell}
            # README snippet: drill_down_cell
            in_cell = RawSQL('SELECT id FROM markers WHERE qk <@ %s::quadkey', [cell])
            page = Paginator(Marker.objects.filter(id__in=in_cell).order_by('id'), 20).page(1)
            # README snippet end
            ids = [m.pk for n in page.paginator.page_range for m in page.paginator.page(n)]
            with self.subTest(zoom=zoom):
                self.assertGreater(len(expected), 20)
                self.assertEqual(ids, sorted(expected))
                in_cell = Marker.objects.filter(pk__in=ids)
                self.assertEqual(sum(count for count, lat_, lon_ in cluster_rows(in_cell, zoom + 3)), len(expected))
