"""Real processes of this project (a Redis of its own, gunicorn, Celery worker and beat)
for the tests that need them and for the benchmarks: the one place both import from."""
