"""GET /health/: database, cache, Redis and Celery worker status (django-health-check).

Answers 200 when all are up, 500 naming what is down; JSON with `Accept: application/json`.
Without REDIS_URL (the embedded demo) only the database and the local cache are checked.
"""

import datetime

from django.conf import settings
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis


def _redis_client() -> AsyncRedis:
    return AsyncRedis.from_url(settings.REDIS_URL)


def _checks() -> tuple[object, ...]:
    checks: list[object] = ["health_check.checks.Database", "health_check.checks.Cache"]
    if settings.REDIS_URL:
        checks += [
            ("health_check.contrib.redis.Redis", {"client_factory": _redis_client}),
            ("health_check.contrib.celery.Ping", {"timeout": datetime.timedelta(seconds=2)}),
        ]
    return tuple(checks)


class HealthView(HealthCheckView):
    checks = _checks()
