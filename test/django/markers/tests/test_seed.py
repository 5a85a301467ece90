"""Seed 000: "a social network with 28,000+ users ... the client side will have to deal only
with 10-50 markers per request/zoom level". The README's shortest path, the /clusters view,
on 28,000 users, with a 1280x800 px map centred on cities at zoom levels from the world to
the street."""
from geocluster_django import cluster_queryset
from markers.models import Marker

from .base import MarkerTestCase
from .data import CITIES, screen_bbox


class Seed000Tests(MarkerTestCase):
    total = 28000
    fast_load = True

    def test_at_most_50_markers_per_request(self):
        self.assertGreaterEqual(Marker.objects.count(), 28000)
        for name, lat, lon, *_ in CITIES[:3] + CITIES[-1:]:
            for zoom in (1, 4, 8, 10, 11, 12, 14):  # the densest are 10 to 12
                box = screen_bbox(lat, lon, zoom)
                with self.subTest(city=name, zoom=zoom):
                    response = self.client.get('/clusters', {'bbox': ','.join(map(repr, box)), 'zoom': zoom})
                    counts = [f['properties']['point_count'] for f in response.json()['features']]
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
