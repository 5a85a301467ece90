from django.db import migrations


class Migration(migrations.Migration):
    """The stored cluster hierarchy of the markers (geocluster_postgis's cluster_hierarchy_create
    over the geom column), for the unfiltered map: views.map_clusters. Its handle is
    markers_clusters; 120 px is the radius of the cluster_agg view, so both paths cluster
    alike.

    It follows writes to markers (INSERT, UPDATE of geom or id, DELETE, TRUNCATE) in their
    transaction; a bulk load is faster between cluster_hierarchy_drop and
    cluster_hierarchy_create, in one transaction (tests/base.py does so around the test data);
    cluster_hierarchy_rebuild recomputes it in place from the table as it is."""
    dependencies = [('markers', '0003_marker_lat_lon_qk')]
    operations = [
        # README snippet: migration_hierarchy
        migrations.RunSQL(
            "SELECT cluster_hierarchy_create('markers', 'geom', 'id', 120)",
            reverse_sql="SELECT cluster_hierarchy_drop('markers_clusters')"),
        # README snippet end
    ]
