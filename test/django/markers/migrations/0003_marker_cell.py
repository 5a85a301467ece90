from django.db import migrations


class Migration(migrations.Migration):
    """Marker.cell: the marker's quadkey at level 29 (about 7 cm), for drill-down by cell.

    A generated column needs an IMMUTABLE expression, which geocluster_postgis's
    quadkey(geometry, int) is, so no trigger is needed: every INSERT, and every UPDATE of geom,
    computes it. The btree index serves `cell <@ '0313'::quadkey` (the planner turns it into
    one range of the index). The model does not declare the column (see Marker)."""
    dependencies = [('markers', '0002_models')]
    operations = [
        # README snippet: migration_cell
        migrations.RunSQL(
            ['ALTER TABLE markers_marker ADD COLUMN cell quadkey'
             ' GENERATED ALWAYS AS (quadkey(geom, 29)) STORED',
             'CREATE INDEX markers_marker_cell ON markers_marker (cell)'],
            reverse_sql=['ALTER TABLE markers_marker DROP COLUMN cell']),
        # README snippet end
    ]
