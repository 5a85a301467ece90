from django.db import connection
from django.db.models import FloatField, Func
from django.test import TestCase

from markers.models import Marker

from .data import in_box, load_markers, load_markers_fast


class MarkerTestCase(TestCase):
    """Loads the test markers once per class (setUpTestData: one transaction, rolled back at
    the end) and keeps them as plain tuples, the rows that Python-side counts run over.

    The migrations leave a cluster hierarchy over the (empty) markers table, which follows writes
    to it; loading thousands of markers is faster without it, so they are loaded between
    cluster_hierarchy_drop and, for a class with hierarchy = True, cluster_hierarchy_create (the
    same call as migration 0004). The class's rollback brings the migration's hierarchy back."""
    total = 3000
    fast_load = False
    hierarchy = False

    @classmethod
    def setUpTestData(cls):
        with connection.cursor() as cursor:
            cursor.execute("SELECT cluster_hierarchy_drop('markers_clusters')")
        (load_markers_fast if cls.fast_load else load_markers)(cls.total)
        if cls.hierarchy:
            with connection.cursor() as cursor:
                cursor.execute("SELECT cluster_hierarchy_create('markers', 'geom', 'id', 120)::text")
                assert cursor.fetchone()[0] == 'markers_clusters'
        # Statistics of the rows just loaded (ANALYZE counts this transaction's own rows). Without
        # them the planner sees whatever autovacuum last left: after an earlier class's rows were
        # rolled back and vacuumed away, reltuples = 0, and it takes the table for empty. (The
        # recipes read the ORM's query as a derived table, so no plan can join the table to
        # itself whatever the statistics: test_social_network checks the plans.)
        with connection.cursor() as cursor:
            cursor.execute('ANALYZE markers')
        # ST_X and ST_Y return the stored coordinates exactly, without a GEOS object per row.
        cls.points = list(Marker.objects.values_list(
            'id', Func('geom', function='ST_X', output_field=FloatField()),
            Func('geom', function='ST_Y', output_field=FloatField()), 'category', 'created'))

    def python_ids(self, box=None, where=lambda category, created: True):
        """The ids of the markers in box (None: all) for which where(category, created) holds."""
        return {pk for pk, lon, lat, category, created in self.points
                if (box is None or in_box(lon, lat, box)) and where(category, created)}
