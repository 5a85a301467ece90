from django.db import migrations


class Migration(migrations.Migration):
    """The README's markers table: lat, lon and qk (the marker's quadkey at level 29, about 5 cm,
    for drill-down by cell), generated from geom, and a btree index on qk.

    Django 3.2 has no GeneratedField, and a field declared on the model would be written by every
    INSERT, which PostgreSQL refuses for a generated column: the model declares geom, which Django
    writes, and the database computes the other three on every INSERT and every UPDATE of geom.
    A generated column needs IMMUTABLE expressions, which ST_X, ST_Y and geocluster_postgis's
    quadkey(geometry, int) are (one generated column cannot read another, so qk reads geom). The
    btree index serves `qk <@ '0313'::quadkey` (the planner turns it into one range of the index)."""
    dependencies = [('markers', '0002_models')]
    operations = [
        migrations.RunSQL(
            ['ALTER TABLE markers ADD COLUMN lat float8 GENERATED ALWAYS AS (ST_Y(geom)) STORED,'
             ' ADD COLUMN lon float8 GENERATED ALWAYS AS (ST_X(geom)) STORED,'
             ' ADD COLUMN qk quadkey GENERATED ALWAYS AS (quadkey(geom, 29)) STORED',
             'CREATE INDEX markers_qk_idx ON markers (qk)'],
            reverse_sql=['ALTER TABLE markers DROP COLUMN lat, DROP COLUMN lon, DROP COLUMN qk']),
    ]
