"""Settings of the Django project that runs geocluster's Django recipes as tests.

The database is the throwaway server of scripts/pgtmp, reached through the libpq variables
that scripts/test exports: PGHOST may be a socket directory, which psycopg2 accepts as HOST.
Django's test runner creates and drops its own database, test_<NAME>, so NAME need not exist.
"""
import os

SECRET_KEY = 'geocluster-tests-only'
DEBUG = False
ALLOWED_HOSTS = ['testserver']
USE_TZ = True
TIME_ZONE = 'UTC'

INSTALLED_APPS = [
    'django.contrib.gis',
    'markers',
]
MIDDLEWARE = []
ROOT_URLCONF = 'gcproject.urls'
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

DATABASES = {
    'default': {
        'ENGINE': 'django.contrib.gis.db.backends.postgis',
        'NAME': os.environ.get('GEOCLUSTER_DJANGO_DB', 'geocluster_django'),
        'HOST': os.environ.get('PGHOST', ''),
        'PORT': os.environ.get('PGPORT', ''),
        'USER': os.environ.get('PGUSER', ''),
        'PASSWORD': os.environ.get('PGPASSWORD', ''),
        # Nothing here may wait forever: a connection attempt gives up after 10 s, and a
        # statement after 5 minutes or 2 minutes on a lock, with an error that names it
        # (the test command's own time limit would only say that the suite hung).
        'OPTIONS': {
            'connect_timeout': 10,
            'options': '-c statement_timeout=300s -c lock_timeout=120s',
        },
    },
}
