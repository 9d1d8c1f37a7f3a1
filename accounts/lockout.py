"""The answer to a login that django-axes has locked out."""

from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse

MESSAGE = "Too many failed logins for this account from here. Try again in {minutes} minutes."


def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """429 with Retry-After: a client (or a person's password manager) knows when to retry."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    response = HttpResponse(MESSAGE.format(minutes=max(1, seconds // 60)), status=429, content_type="text/plain")
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
