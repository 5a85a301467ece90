#!/usr/bin/env bash
# META.json against the PGXN Meta Spec 1.0.0 (see meta_json.py).
exec python3 "$(dirname "$0")/meta_json.py"
