#!/usr/bin/env bash
# The README's vector-tile recipe, decoded (see postgis_mvt.py). PGHOST/PGPORT/PGUSER name the server.
exec python3 "$(dirname "$0")/postgis_mvt.py"
