"""Production settings (config/settings.py) with the benchmark's reference views routed.
The benchmarks start gunicorn with DJANGO_SETTINGS_MODULE=bench.settings."""

from config.settings import *  # noqa: F403 - every production setting, unchanged but one

ROOT_URLCONF = "bench.urls"
