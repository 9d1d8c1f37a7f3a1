from functools import partial
from typing import Any

from django.http import HttpRequest

from playbooks.selectors import open_task_count


def my_work(request: HttpRequest) -> dict[str, Any]:
    """The count beside "My work" in the header. A callable, so the template counts (one
    indexed query) only on pages that show the header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"my_open_tasks": partial(open_task_count, user)}
