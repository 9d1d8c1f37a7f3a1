"""Who sees and works which task: staff their own, managers their team's (and what was
escalated to them or went to nobody), administrators everything."""

from typing import Any

from django.db.models import Q, QuerySet

from accounts.access import is_manager
from accounts.roles import ADMINISTRATORS, has_role
from accounts.teams import team_member_ids
from playbooks.models import Task


def visible_tasks(user: Any) -> QuerySet[Task]:
    tasks = Task.objects.all()
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return tasks.none()
    if has_role(user, ADMINISTRATORS):
        return tasks
    if is_manager(user):
        return tasks.filter(Q(assignee_id__in=team_member_ids(user)) | Q(escalated_to=user) | Q(assignee__isnull=True))
    return tasks.filter(assignee=user)


def can_see_task(user: Any, task: Task) -> bool:
    return visible_tasks(user).filter(pk=task.pk).exists()
