from django.db import migrations


class Migration(migrations.Migration):
    """geocluster_postgis needs geocluster and PostGIS; CASCADE installs whichever is missing.
    The extensions are trusted, so a database owner without superuser can run this too.
    Django's test runner makes a fresh test database and runs this migration in it."""
    initial = True
    dependencies = []
    operations = [
        # README snippet: migration_extension
        migrations.RunSQL('CREATE EXTENSION IF NOT EXISTS geocluster_postgis CASCADE',
                          reverse_sql=migrations.RunSQL.noop),
        # README snippet end
    ]
