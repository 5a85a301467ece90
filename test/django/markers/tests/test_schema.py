"""What the migrations build: the extensions, the README's markers table (lat, lon and qk generated
from geom) and the btree index of qk."""
from django.contrib.gis.geos import Point
from django.db import connection

from markers.models import Marker

from .base import MarkerTestCase
from .data import py_quadkey


def query(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class SchemaTests(MarkerTestCase):

    def test_extensions(self):
        names = {name for [name] in query('SELECT extname FROM pg_extension')}
        self.assertLessEqual({'postgis', 'geocluster', 'geocluster_postgis'}, names)

    def test_markers_is_the_readme_table(self):
        # The README's markers (id, lat, lon, qk; geom in the PostGIS section) and its category,
        # with lat and lon exactly the stored coordinates.
        columns = dict(query("SELECT column_name, udt_name FROM information_schema.columns"
                             " WHERE table_name = 'markers'"))
        self.assertEqual(columns, {'id': 'int8', 'lat': 'float8', 'lon': 'float8', 'qk': 'quadkey',
                                   'geom': 'geometry', 'category': 'varchar', 'created': 'timestamptz'})
        stored = {pk: (lon, lat) for pk, lon, lat, _, _ in self.points}
        self.assertEqual(dict((pk, (lon, lat)) for pk, lon, lat in query('SELECT id, lon, lat FROM markers')), stored)

    def test_cell_is_a_generated_column_with_a_btree_index(self):
        [(generated, expression, type_name)] = query(
            "SELECT is_generated, generation_expression, udt_name FROM information_schema.columns"
            " WHERE table_name = 'markers' AND column_name = 'qk'")
        self.assertEqual((generated, type_name), ('ALWAYS', 'quadkey'))
        self.assertIn('quadkey(geom, 29)', expression)
        [[volatility]] = query("SELECT provolatile FROM pg_proc WHERE oid = 'quadkey(geometry, int)'::regprocedure")
        self.assertEqual(volatility, 'i')  # IMMUTABLE: the condition for a generated column
        [[indexdef]] = query("SELECT indexdef FROM pg_indexes WHERE indexname = 'markers_qk_idx'")
        self.assertIn('USING btree (qk)', indexdef)

    def test_cell_is_the_markers_quadkey(self):
        # Against the Bing tile system written in Python, at level 16 (about 600 m): far enough
        # from the last bits that two floating-point evaluations of an edge could disagree on.
        cells = dict(query('SELECT id, qk::text FROM markers'))
        for pk, lon, lat, _, _ in self.points:
            self.assertEqual(cells[pk][:16], py_quadkey(lat, lon, 16), (lon, lat))
            self.assertEqual(len(cells[pk]), 29)

    def test_cell_follows_geom(self):
        marker = Marker.objects.get(pk=self.points[0][0])
        marker.geom = Point(139.6917, 35.6895, srid=4326)
        marker.save()
        [[cell]] = query('SELECT qk::text FROM markers WHERE id = %s', [marker.pk])
        self.assertEqual(cell[:16], py_quadkey(35.6895, 139.6917, 16))

    def test_drill_down_by_cell_uses_the_index(self):
        if not query("SELECT 1 FROM pg_proc WHERE proname = 'quadkey_contained_support'"):
            self.skipTest('this geocluster has no planner support for <@ (src/sql/geocluster/41_planner_index_conditions.sql)')
        with connection.cursor() as cursor:
            cursor.execute('SET LOCAL enable_seqscan = off')
            cursor.execute("EXPLAIN (COSTS OFF) SELECT id FROM markers WHERE qk <@ %s::quadkey", ['1202'])
            plan = '\n'.join(row[0] for row in cursor.fetchall())
        self.assertIn('markers_qk_idx', plan)
