"""Who works here: the people customers and tasks may go to, and reporting lines (whose
work a manager sees, and who hears of a task that runs late)."""

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from accounts.models import StaffProfile
from accounts.roles import ALL_ROLES


def active_staff(*, keep: int | None = None) -> QuerySet[User]:
    """Everyone who can work on customers: active users holding a role (and `keep`, the
    current owner, even if they have left, so an unrelated edit does not fail on them)."""
    working = Q(is_active=True) & (Q(groups__name__in=ALL_ROLES) | Q(is_superuser=True))
    return User.objects.filter(working | Q(pk=keep)).distinct().order_by("first_name", "last_name", "username")


def manager_of(user_id: int | None) -> Any:
    """The active manager of this person, or None."""
    if user_id is None:
        return None
    profile = StaffProfile.objects.select_related("manager").filter(user_id=user_id).first()
    manager = profile.manager if profile else None
    return manager if manager is not None and manager.is_active else None


def team_member_ids(manager: Any) -> list[int]:
    """The manager and the people who report to them."""
    reports = StaffProfile.objects.filter(manager=manager).values_list("user_id", flat=True)
    return [manager.pk, *reports]


def managers_by_person(user_ids: list[int]) -> dict[int, Any]:
    """Person id -> their active manager, for those who have one."""
    profiles = StaffProfile.objects.select_related("manager").filter(
        user_id__in=user_ids, manager__isnull=False, manager__is_active=True
    )
    return {p.user_id: p.manager for p in profiles}


def set_manager(*, user: Any, manager: Any) -> StaffProfile:
    profile, _ = StaffProfile.objects.update_or_create(user=user, defaults={"manager": manager})
    return profile
