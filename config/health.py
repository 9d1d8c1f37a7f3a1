"""GET /health/: database, cache, Redis and Celery worker status (django-health-check).

For monitors and anyone else: a bare 200 "ok" or 503 "unavailable". The details (which
check failed and why; JSON with `Accept: application/json`) only for signed-in staff
(`is_staff`) or a request bearing HEALTH_TOKEN (`Authorization: Bearer <token>`): they
name the services and versions an attacker would like to know.
Without REDIS_URL (the embedded demo) only the database and the local cache are checked.
"""

import datetime
import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
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


async def may_see_details(request: HttpRequest) -> bool:
    user = await request.auser()
    if user.is_authenticated and user.is_staff:
        return True
    token = settings.HEALTH_TOKEN
    given = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


class HealthView(HealthCheckView):
    checks = _checks()

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = await super().get(request, *args, **kwargs)
        if await may_see_details(request):
            return response
        healthy = response.status_code == 200
        bare = HttpResponse(
            "ok\n" if healthy else "unavailable\n", content_type="text/plain", status=200 if healthy else 503
        )
        bare["Cache-Control"] = "no-store"
        return bare
