"""The demo's playbooks: reporting lines, a history of follow-up tasks worked (or not) over
the year, and today's tasks in every state, so that My work, the team's tasks and the "did
it help" report have something true to show.

The history is read off the demo's own data, not invented: a task is opened the day a
customer's weekly snapshot first shows them at risk; it counts as done in time when one of
their touchpoints was good within the playbook's SLA, done late when one was within 30 days,
resolved by itself when the next snapshot left the band first, and otherwise as "could not
reach". Whatever the report then shows is what the demo's stories did.
"""

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.teams import set_manager
from customers.models import Customer
from interactions.models import Interaction
from memory.models import Band, ScoreSnapshot
from playbooks.models import CloseReason, Playbook, Task, TaskStatus, TriggerKind
from playbooks.services import playbooks_evaluate, task_close, task_reassign, task_snooze, tasks_follow_up
from playbooks.tasks import queue_emails

# manager -> the people who report to them
TEAMS = {"maya": ["sam", "priya"], "tom": ["jonas", "lena", "kofi"]}
HISTORY_KEY = "demo-history:"
LATE_WITHIN = timedelta(days=30)


def reporting_lines() -> None:
    people = {
        u.username: u
        for u in User.objects.filter(username__in=[*TEAMS, *(name for team in TEAMS.values() for name in team)])
    }
    for manager, reports in TEAMS.items():
        for username in reports:
            if manager in people and username in people:
                set_manager(user=people[username], manager=people[manager])


def _entries(customer_ids: list[int], end: datetime) -> list[tuple[int, Any, float]]:
    """(customer, day, score) of each first at-risk snapshot after one that was not."""
    entries = []
    previous: dict[int, str] = {}
    rows = ScoreSnapshot.objects.filter(customer_id__in=customer_ids, day__lte=(end - LATE_WITHIN).date())
    for customer_id, day, band, score in rows.order_by("customer_id", "day").values_list(
        "customer_id", "day", "band", "score"
    ):
        if band == Band.AT_RISK and previous.get(customer_id, Band.NEUTRAL) != Band.AT_RISK:
            entries.append((customer_id, day, score))
        previous[customer_id] = band
    return entries


def _handled(task: Task, good_touches: list[tuple[datetime, int]], left_band: datetime | None) -> None:
    after = [(at, pk) for at, pk in good_touches if at > task.created_at]
    first = after[0] if after else None
    if first is not None and first[0] <= task.created_at + LATE_WITHIN:
        task.close_reason, task.closed_at, task.interaction_id = CloseReason.ACTED, first[0], first[1]
    elif left_band is not None:
        task.close_reason, task.closed_at = CloseReason.RESOLVED_ITSELF, left_band
    else:
        task.close_reason, task.closed_at = CloseReason.COULD_NOT_REACH, task.created_at + timedelta(days=14)
    task.status = TaskStatus.CLOSED


@transaction.atomic
def task_history(customer_ids: list[int], end: datetime) -> int:
    """The year's at-risk tasks, closed as the data says they were handled. Idempotent."""
    playbook = Playbook.objects.filter(kind=TriggerKind.AT_RISK).first()
    if playbook is None or Task.objects.filter(playbook=playbook, subject_key__startswith=HISTORY_KEY).exists():
        return 0
    owners = dict(Customer.objects.filter(pk__in=customer_ids).values_list("id", "owner_id"))
    good: dict[int, list[tuple[datetime, int]]] = {}
    for customer_id, at, pk in (
        Interaction.objects.filter(customer_id__in=customer_ids, valence__gte=1, staff__isnull=False)
        .order_by("occurred_at")
        .values_list("customer_id", "occurred_at", "id")
    ):
        good.setdefault(customer_id, []).append((at, pk))
    snapshots = ScoreSnapshot.objects.filter(customer_id__in=customer_ids).order_by("customer_id", "day")
    by_customer: dict[int, list[tuple[Any, str]]] = {}
    for customer_id, day, band in snapshots.values_list("customer_id", "day", "band"):
        by_customer.setdefault(customer_id, []).append((day, band))
    tasks = []
    for customer_id, day, score in _entries(customer_ids, end):
        later = [d for d, band in by_customer[customer_id] if d > day and band != Band.AT_RISK]
        created = datetime.combine(day, time(9), tzinfo=end.tzinfo)
        left_band = datetime.combine(later[0], time(9), tzinfo=end.tzinfo) if later else None
        task = Task(
            playbook=playbook,
            customer_id=customer_id,
            subject_key=f"{HISTORY_KEY}{day.isoformat()}",
            reason=f"Memory score {score:.0f}: in the at-risk band.",
            assignee_id=owners.get(customer_id),
            created_at=created,
            due_at=created + timedelta(hours=playbook.sla_hours),
            score_at_open=score,
        )
        _handled(task, good.get(customer_id, []), left_band)
        tasks.append(task)
    Task.objects.bulk_create(tasks, ignore_conflicts=True)
    return len(tasks)


def todays_tasks(now: datetime) -> dict[str, int]:
    """Evaluate the playbooks as of two days ago and now (so some tasks are overdue and
    escalated), then work a few as people would: every state shows. Idempotent: the worked
    examples are made once, on the first run."""
    first_run = not Task.objects.filter(close_note=WORKED_NOTE).exists()
    earlier = playbooks_evaluate(now=now - timedelta(days=2))
    current = playbooks_evaluate(now=now)
    follow_up = tasks_follow_up(now=now)
    queue_emails([*earlier.emails, *current.emails, *follow_up.emails])
    if first_run:
        _work_some(now)
    counts = {"open": 0, "snoozed": 0, "closed": 0}
    for status in counts:
        counts[status] = Task.objects.filter(status=status, created_at__gt=now - timedelta(days=3)).count()
    counts["escalated"] = Task.objects.filter(escalated_at__isnull=False, status=TaskStatus.OPEN).count()
    return counts


WORKED_NOTE = "Worked in the demo."
WORKED = [CloseReason.ACTED, CloseReason.NO_ACTION_NEEDED, CloseReason.COULD_NOT_REACH]


def _work_some(now: datetime) -> None:
    people = {u.username: u for u in User.objects.filter(username__in=["sam", "priya", "lena"])}
    fresh = list(Task.objects.filter(status=TaskStatus.OPEN, created_at__gt=now - timedelta(days=3)).order_by("id"))
    # A snooze ends in the future of the clock, whatever day the demo's history ends on.
    wake = max(now, timezone.now()) + timedelta(days=1)
    for task in fresh[:2]:
        task_snooze(task=task, actor=task.assignee, until=wake)
    for task, reason in zip(fresh[2:5], WORKED, strict=False):
        task_close(task=task, actor=task.assignee, reason=reason, note=WORKED_NOTE)
    if len(fresh) > 5 and "lena" in people:
        moved = task_reassign(task=fresh[5], actor=people.get("sam"), assignee=people["lena"])
        queue_emails([moved.pk])
