import django.contrib.gis.db.models.fields
from django.db import migrations, models

import geocluster_django.fields


class Migration(migrations.Migration):
    dependencies = [
        ('markers', '0001_geocluster_extension'),
    ]
    operations = [
        migrations.CreateModel(
            name='Marker',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('geom', django.contrib.gis.db.models.fields.PointField(srid=4326)),
                ('category', models.CharField(db_index=True, max_length=40)),
                ('created', models.DateTimeField(db_index=True)),
            ],
            options={'db_table': 'markers'},
        ),
        migrations.CreateModel(
            name='Region',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('tile', geocluster_django.fields.QuadkeyField()),
                ('geohash', geocluster_django.fields.GeohashField(blank=True, null=True)),
            ],
        ),
    ]
