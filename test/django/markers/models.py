from django.contrib.gis.db import models

from geocluster_django import GeohashField, QuadkeyField


class Marker(models.Model):
    """A user's place on the map (a social network's members).

    The table has one more column that this model does not declare: `cell quadkey`, generated
    from geom and indexed (migration 0002_geocluster). Django 3.2 has no GeneratedField, and a
    field declared here would be written by every INSERT, which PostgreSQL refuses for a
    generated column; queries read it by name (tests: drill-down by cell)."""
    geom = models.PointField(srid=4326)
    category = models.CharField(max_length=40, db_index=True)
    created = models.DateTimeField(db_index=True)

    def __str__(self):
        return f'{self.category} at {self.geom.y:.5f},{self.geom.x:.5f}'


class Region(models.Model):
    """A saved map area, stored as a cell: the geocluster_django fields at work."""
    name = models.CharField(max_length=80)
    tile = QuadkeyField()
    geohash = GeohashField(null=True, blank=True)

    def __str__(self):
        return self.name
