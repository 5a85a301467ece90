#!/usr/bin/env bash
# cluster_geojson against what supercluster gives for the same points (see geojson_supercluster.py).
# PGHOST/PGPORT/PGUSER name the server.
exec python3 "$(dirname "$0")/geojson_supercluster.py"
