"""Per-zoom latency of the README's /clusters view (bench/django/run prints it).

For each table size: a fresh database with the Django test project's migrations, the markers of
test/django/markers/tests/data.py (cities, a few spread over the world), ANALYZE; then for each
zoom, GET /clusters with the bbox of a 1280x800 px map centred on each of three cities (London,
New York, Suva across the antimeridian), timed through Django's test client (URL routing, the
view, the query, the response), `--repeat` times each after one warm-up. Prints the median and
the slowest request per zoom over the cities and repeats, and the largest feature count.

--in-subquery also times the form the README's view had before, the same ORM query joined back
to the table as `WHERE id IN (<its SQL>)` (once per city and zoom, 60 s at most each): PostGIS
estimates ST_DWithin(geom, box, 0) at a few rows whatever the box, and for some viewports the
planner makes it a nested loop over two scans of the table.
"""
import argparse
import statistics
import time

import django
import psycopg2

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from geocluster_django import bbox_q  # noqa: E402
from markers.models import Marker  # noqa: E402
from markers.tests.data import CITIES, marker_rows, screen_bbox  # noqa: E402

DB = 'geocluster_bench_django'
VIEWPORT_CITIES = (CITIES[0], CITIES[4], CITIES[12])  # London, New York, Suva


def admin(sql):
    conn = psycopg2.connect(dbname='postgres')
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


def load(total):
    """The markers of data.marker_rows in batches of one INSERT (as load_markers_fast). The
    migrations' cluster hierarchy would follow each batch; /clusters does not read it, so it is
    dropped rather than built again after the load."""
    rows = marker_rows(total, special=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT cluster_hierarchy_drop('markers_clusters')")
        for start in range(0, len(rows), 100000):
            columns = [list(c) for c in zip(*rows[start:start + 100000])]
            cursor.execute('INSERT INTO markers (geom, category, created)'
                           ' SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326), category, created'
                           ' FROM unnest(%s::float8[], %s::float8[], %s::text[], %s::timestamptz[])'
                           ' AS m(lon, lat, category, created)', columns)
        cursor.execute('VACUUM ANALYZE markers')


def time_in_subquery(bbox, zoom):
    """ms of the IN-subquery form of the view's query, or None past the 60 s timeout."""
    sql, params = Marker.objects.filter(bbox_q('geom', bbox)).values('id').query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '60s'")
        start = time.perf_counter()
        try:
            cursor.execute('SELECT cluster_geojson(cluster_agg(geom, %s, 120, id))::text'
                           f' FROM markers WHERE id IN ({sql})', [zoom, *params])
            return (time.perf_counter() - start) * 1000
        except django.db.utils.OperationalError:  # the statement timeout
            return None
        finally:
            cursor.execute('RESET statement_timeout')


def zooms(text):
    low, _, high = text.partition('-')
    return range(int(low), int(high or low) + 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--markers', type=int, action='append', help='table sizes (default 28000 and 1000000)')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--zooms', type=zooms, default=zooms('0-16'))
    parser.add_argument('--in-subquery', action='store_true', help='also time the IN-subquery form')
    args = parser.parse_args()
    client = Client()
    for total in args.markers or (28000, 1000000):
        connection.close()
        admin(f'DROP DATABASE IF EXISTS {DB}')
        admin(f'CREATE DATABASE {DB}')
        try:
            call_command('migrate', verbosity=0)
            started = time.perf_counter()
            load(total)
            print(f'\n{total:,} markers (loaded and analysed in {time.perf_counter() - started:.1f} s), '
                  f'/clusters on a 1280x800 map centred on {", ".join(c[0] for c in VIEWPORT_CITIES)}, '
                  f'{args.repeat} requests each after a warm-up')
            print(f'{"zoom":>4}  {"median ms":>9}  {"max ms":>8}  {"features":>8}'
                  + ('  IN-subquery ms (per city)' if args.in_subquery else ''))
            for zoom in args.zooms:
                times, features = [], 0
                for name, lat, lon, *_ in VIEWPORT_CITIES:
                    query = {'bbox': ','.join(map(repr, screen_bbox(lat, lon, zoom))), 'zoom': zoom}
                    features = max(features, len(client.get('/clusters', query).json()['features']))
                    for _ in range(args.repeat):
                        start = time.perf_counter()
                        response = client.get('/clusters', query)
                        times.append((time.perf_counter() - start) * 1000)
                        assert response.status_code == 200, response.content
                line = f'{zoom:>4}  {statistics.median(times):>9.1f}  {max(times):>8.1f}  {features:>8}'
                if args.in_subquery:
                    slow = [time_in_subquery(screen_bbox(lat, lon, zoom), zoom) for _, lat, lon, *_ in VIEWPORT_CITIES]
                    line += '  ' + ' '.join('>60000' if t is None else f'{t:.0f}' for t in slow)
                print(line, flush=True)
        finally:
            connection.close()
            admin(f'DROP DATABASE IF EXISTS {DB}')


if __name__ == '__main__':
    main()
