from typing import Any

from django.http import HttpRequest

from accounts.access import is_manager
from accounts.roles import ADMINISTRATORS, has_role


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {"is_manager": is_manager(user), "is_administrator": has_role(user, ADMINISTRATORS)}
