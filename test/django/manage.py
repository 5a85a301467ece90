#!/usr/bin/env python3
"""Django's command-line utility for the geocluster Django recipes (test/django/run)."""
import faulthandler
import os
import signal
import sys
from pathlib import Path

if __name__ == '__main__':
    # When the test command's time limit stops a hung run (SIGTERM), say where every thread was.
    faulthandler.register(signal.SIGTERM, chain=True)
    # The optional helper module lives in the repository's python/ directory.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'python'))
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'gcproject.settings')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
