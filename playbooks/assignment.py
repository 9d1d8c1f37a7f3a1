"""Who gets a new task: the customer's owner, else the member of the playbook's group with the
fewest open tasks (ties: the lowest id), counted as the batch assigns them."""

from collections import Counter
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import Count

from accounts.roles import SUPPORT_STAFF
from playbooks.models import OPEN_STATUSES, Playbook, Task


class Assigner:
    def __init__(self, playbook: Playbook) -> None:
        group = playbook.assign_group or Group.objects.filter(name=SUPPORT_STAFF).first()
        members = (
            list(User.objects.filter(groups=group, is_active=True).order_by("id").values_list("id", flat=True))
            if group is not None
            else []
        )
        open_counts = (
            Task.objects.filter(assignee_id__in=members, status__in=OPEN_STATUSES)
            .values("assignee_id")
            .annotate(n=Count("id"))
        )
        self.members = members
        self.load: Counter[int] = Counter({row["assignee_id"]: row["n"] for row in open_counts})
        self.active_owners: set[int] = set()

    def know_owners(self, owner_ids: set[int]) -> None:
        """Which of these owners can take work (an inactive owner's customers go to the group)."""
        self.active_owners = set(User.objects.filter(pk__in=owner_ids, is_active=True).values_list("id", flat=True))

    def pick(self, owner_id: Any) -> int | None:
        if owner_id in self.active_owners:
            chosen = int(owner_id)
        elif self.members:
            chosen = min(self.members, key=lambda member: (self.load[member], member))
        else:
            return None
        self.load[chosen] += 1
        return chosen
