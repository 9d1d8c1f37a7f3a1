"""Who may call the API: systems with a scoped key, staff with their session."""

import logging
from typing import Any, cast

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from config.rest.scopes import Scope
from integrations.models import APIKey

KEYWORDS = ("api-key", "token")
UNKNOWN_KEY = "This API key is unknown, revoked or expired. Ask an administrator for a new one."

logger = logging.getLogger(__name__)


class SystemUser:
    """request.user for a call made with an API key: authenticated, but not a person."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, key: APIKey) -> None:
        self.key = key
        self.username = f"api-key:{key.name}"

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def __str__(self) -> str:
        return self.username


class FailedKeyThrottle(SimpleRateThrottle):
    """Wrong keys per client address (API_FAILED_AUTH_RATE): guessing keys gets a 429.

    Keys are long random secrets, so this is not what keeps them safe; it keeps a scanner
    from costing a hashed-key lookup per request and shows up in the logs."""

    scope = "failed_auth"
    num_requests: int  # set from the rate by SimpleRateThrottle
    duration: int

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def over_budget(self, request: Request) -> float | None:
        """Seconds to wait when this address used up its failures, else None."""
        self.cache_answered = False
        try:
            self.key = self.get_cache_key(request, None)
            self.history = self.cache.get(self.key, [])
            self.cache_answered = True
            self.now = self.timer()
            while self.history and self.history[-1] <= self.now - self.duration:
                self.history.pop()
            return self.wait() if len(self.history) >= self.num_requests else None
        except Exception:  # the cache (Redis) is down: fail open, as the request throttle does
            logger.warning("failed-key throttle not applied: the cache is unavailable", exc_info=True)
            return None

    def record_failure(self, request: Request) -> None:
        if not self.cache_answered:  # it was down a moment ago, and over_budget logged that
            return
        try:
            self.history.insert(0, self.now)
            self.cache.set(self.key, self.history, self.duration)
        except Exception:
            logger.warning("failed-key throttle not recorded: the cache is unavailable", exc_info=True)


class APIKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>` or `Authorization: Token <key>`."""

    def authenticate(self, request: Request) -> tuple[SystemUser, APIKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        keyword, _, given = header.partition(" ")
        if keyword.lower() not in KEYWORDS:
            return None
        throttle = FailedKeyThrottle()
        wait = throttle.over_budget(request)
        if wait is not None:
            raise exceptions.Throttled(wait, "Too many wrong API keys from this address.")
        given = given.strip()
        key = None
        # Keys are printable ASCII; anything else (a NUL, say) cannot match one.
        if given and given.isascii() and given.isprintable():
            try:
                key = cast(APIKey, APIKey.objects.get_from_key(given))
            except APIKey.DoesNotExist:
                key = None
            if key is not None and key.has_expired:
                key = None
        if key is None:
            throttle.record_failure(request)
            raise exceptions.AuthenticationFailed(UNKNOWN_KEY if given else "The Authorization header names no key.")
        return SystemUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"


def required_scope(request: Request, view: Any) -> str:
    return Scope.READ if request.method in SAFE_METHODS else getattr(view, "write_scope", Scope.FULL)


class ScopedAccess(BasePermission):
    """Keys act within their scope; people act within their role's permissions.

    A view states the scope a write needs (`write_scope`, default full) and the model
    permission a person needs to read (`read_permission`) and to write (`write_permission`).
    """

    message = "Your key's scope or your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = required_scope(request, view)
        if isinstance(request.auth, APIKey):
            return request.auth.allows(needed)
        user = request.user
        if not user or not user.is_authenticated:
            return False
        # A view that names no permission admits no person: deny by default.
        perm = getattr(view, "read_permission" if needed == Scope.READ else "write_permission", None)
        return isinstance(perm, str) and user.has_perm(perm)


def seconds_until_allowed(*, limit: int, duration: float, into: float, current: int, previous: int) -> float:
    """When one more request fits the sliding window: `current` requests so far in this
    window (`into` seconds old), `previous` in the window before, which weighs less as
    this one ages."""
    if previous and current < limit:  # within this window, once the last one weighs less
        weight_allowed = (limit - 1 - current) / previous
        return max(0.0, duration * (1 - weight_allowed) - into)
    # This window alone is full: into the next, once this one weighs little enough.
    weight_allowed = (limit - 1) / current if current else 1.0
    return duration - into + duration * (1 - weight_allowed)


class PerClientThrottle(SimpleRateThrottle):
    """One budget per API key or per person, shared by all web processes (the cache).

    Requests are counted per window of the rate's length with an atomic increment in
    Redis, and judged over a sliding window: this window's count plus the last one's,
    weighted by how much of it the sliding window still covers. DRF's own throttle keeps
    every request's time in one cached list that each request reads and writes whole: at
    100 requests/s that is 6,000 timestamps (54 KB) each way per request, and two
    processes that read the list at once each write back their own, so requests went
    uncounted."""

    scope = "client"
    num_requests: int  # set from the rate by SimpleRateThrottle
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        # The budget lives in Redis. When Redis is down, touchpoints must still be stored
        # (the broker-outage guarantee), so the limit fails open for the outage.
        try:
            return self._allow(key, self.timer())
        except Exception:
            logger.warning("rate limit not applied: the cache is unavailable", exc_info=True)
            return True

    def _allow(self, key: str, now: float) -> bool:
        window, into = divmod(now, self.duration)
        current, previous = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        self.cache.add(current, 0, timeout=2 * self.duration)
        count = self.cache.incr(current)
        before = self.cache.get(previous, 0)
        if before * (1 - into / self.duration) + count <= self.num_requests:
            return True
        self.cache.decr(current)  # a refused request is not counted: it used nothing
        self.retry_after = seconds_until_allowed(
            limit=self.num_requests, duration=self.duration, into=into, current=count - 1, previous=before
        )
        return False

    def wait(self) -> float:
        return self.retry_after

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, APIKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
