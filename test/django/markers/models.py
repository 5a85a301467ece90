from django.contrib.gis.db import models

from geocluster_django import GeohashField, QuadkeyField


class Marker(models.Model):
    """A user's place on the map (a social network's members), in the README's markers table.

    The table has three more columns that this model does not declare, generated from geom
    (migration 0003_marker_lat_lon_qk): lat, lon and qk, the marker's quadkey, indexed. Django
    3.2 has no GeneratedField, and a field declared here would be written by every INSERT, which
    PostgreSQL refuses for a generated column; queries read them by name (tests: drill-down by
    cell, the hierarchy over lat and lon)."""
    geom = models.PointField(srid=4326)
    category = models.CharField(max_length=40, db_index=True)
    created = models.DateTimeField(db_index=True)

    class Meta:
        db_table = 'markers'

    def __str__(self):
        return f'{self.category} at {self.geom.y:.5f},{self.geom.x:.5f}'


class Region(models.Model):
    """A saved map area, stored as a cell: the geocluster_django fields at work."""
    name = models.CharField(max_length=80)
    tile = QuadkeyField()
    geohash = GeohashField(null=True, blank=True)

    def __str__(self):
        return self.name
