"""Page access by role: every view says who may see it."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.roles import ADMINISTRATORS, MANAGERS, SUPPORT_STAFF, has_role

View = Callable[..., HttpResponse]
EVERY_ROLE = (SUPPORT_STAFF, MANAGERS, ADMINISTRATORS)
MANAGEMENT = (MANAGERS, ADMINISTRATORS)


def role_required(*roles: str) -> Callable[[View], View]:
    """Signed in (else to the login page) and holding one of `roles` (else 403)."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not any(has_role(request.user, role) for role in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def is_manager(user: object) -> bool:
    return any(has_role(user, role) for role in MANAGEMENT)
