"""Playbooks' reads: My work, the team's tasks, and whether acting helped."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from accounts.teams import team_member_ids
from memory.models import ScoreSnapshot
from outcomes.models import Outcome, OutcomeKind
from playbooks.access import visible_tasks
from playbooks.effect import Summary, rate, summarise
from playbooks.models import OPEN_STATUSES, CloseReason, Playbook, Task, TaskStatus

EFFECT_DAYS = 30  # how the memory score moved in the 30 days after the task
OUTCOME_DAYS = 90  # renewals and churns in the 90 days after it
EFFECT_HISTORY = timedelta(days=730)


def with_people(tasks: QuerySet[Task]) -> QuerySet[Task]:
    return tasks.select_related("playbook", "customer", "customer__memory", "assignee", "escalated_to")


def overdue_first(tasks: QuerySet[Task], now: datetime) -> QuerySet[Task]:
    late = Case(When(due_at__lt=now, then=Value(0)), default=Value(1), output_field=IntegerField())
    return tasks.annotate(late=late).order_by("late", "due_at", "id")


def my_work(user: Any, now: datetime) -> dict[str, Any]:
    mine = with_people(Task.objects.filter(assignee=user))
    return {
        "open": list(overdue_first(mine.filter(status=TaskStatus.OPEN), now)),
        "snoozed": list(mine.filter(status=TaskStatus.SNOOZED).order_by("snoozed_until", "id")),
        "closed": list(mine.filter(status=TaskStatus.CLOSED).order_by("-closed_at", "-id")[:10]),
    }


def open_task_count(user: Any) -> int:
    return Task.objects.filter(assignee=user, status=TaskStatus.OPEN).count()


# The filters of the team's task list ("overdue" needs the time: team_tasks adds it).
TASK_STATES = {
    "open": Q(status=TaskStatus.OPEN),
    "escalated": Q(status__in=OPEN_STATUSES, escalated_at__isnull=False),
    "snoozed": Q(status=TaskStatus.SNOOZED),
    "closed": Q(status=TaskStatus.CLOSED),
}


def team_tasks(user: Any, now: datetime, *, state: str = "open", assignee: int | None = None,
               playbook: int | None = None) -> QuerySet[Task]:  # fmt: skip
    tasks = visible_tasks(user)
    if state == "overdue":
        tasks = tasks.filter(status=TaskStatus.OPEN, due_at__lt=now)
    elif state in TASK_STATES:
        tasks = tasks.filter(TASK_STATES[state])
    if assignee is not None:
        tasks = tasks.filter(assignee_id=assignee)
    if playbook is not None:
        tasks = tasks.filter(playbook_id=playbook)
    ordered = overdue_first(tasks, now) if state != "closed" else tasks.order_by("-closed_at", "-id")
    return with_people(ordered)


def workload(user: Any, now: datetime) -> list[dict[str, Any]]:
    """Open, overdue and escalated tasks by assignee, among the tasks this person may see."""
    rows = (
        visible_tasks(user)
        .filter(status__in=OPEN_STATUSES)
        .values("assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(status=TaskStatus.OPEN, due_at__lt=now)),
            escalated=Count("id", filter=Q(escalated_at__isnull=False)),
        )
        .order_by("-overdue", "-open", "assignee__username")
    )
    return [dict(row) for row in rows]


def playbook_counts(now: datetime) -> dict[int, dict[str, int]]:
    rows = Task.objects.values("playbook_id").annotate(
        open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        overdue=Count("id", filter=Q(status=TaskStatus.OPEN, due_at__lt=now)),
        closed_30d=Count("id", filter=Q(status=TaskStatus.CLOSED, closed_at__gte=now - timedelta(days=30))),
    )
    return {
        row["playbook_id"]: {"open": row["open"], "overdue": row["overdue"], "closed_30d": row["closed_30d"]}
        for row in rows
    }


# -- did it help? ---------------------------------------------------------------------------

IN_TIME, LATE, NOT_DONE = "in time", "late", "not done"
GROUPS = (IN_TIME, LATE, NOT_DONE)


def _group(task: Mapping[str, Any]) -> str:
    if task["close_reason"] == CloseReason.ACTED and task["closed_at"] is not None:
        return IN_TIME if task["closed_at"] <= task["due_at"] else LATE
    return NOT_DONE


@dataclass(frozen=True)
class GroupEffect:
    name: str
    score_change: Summary
    with_outcome: int
    renewed: int
    churned: int

    @property
    def churn_rate(self) -> float | None:
        return rate(self.churned, self.with_outcome)


@dataclass(frozen=True)
class PlaybookEffect:
    playbook: Playbook
    groups: list[GroupEffect]
    tasks: int


def _score_after(tasks: Sequence[Mapping[str, Any]]) -> dict[int, float]:
    """Task id -> the customer's score on the latest snapshot within EFFECT_DAYS after it."""
    if not tasks:
        return {}
    first = min(t["created_at"] for t in tasks).date()
    last = max(t["created_at"] for t in tasks).date() + timedelta(days=EFFECT_DAYS)
    snapshots: dict[int, list[tuple[Any, float]]] = defaultdict(list)
    rows = ScoreSnapshot.objects.filter(
        customer_id__in={t["customer_id"] for t in tasks}, day__gte=first, day__lte=last
    ).order_by()
    for customer_id, day, score in rows.values_list("customer_id", "day", "score"):
        snapshots[customer_id].append((day, score))
    after: dict[int, float] = {}
    for task in tasks:
        start = task["created_at"].date()
        end = start + timedelta(days=EFFECT_DAYS)
        inside = [(day, score) for day, score in snapshots[task["customer_id"]] if start < day <= end]
        if inside:
            after[task["id"]] = max(inside)[1]
    return after


def _outcomes_after(tasks: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Task id -> "renewed" or "churned": the first renewal, expansion, downgrade or churn
    within OUTCOME_DAYS after it (a downgrade counts as a churn, an expansion as a renewal)."""
    by_customer: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    rows = Outcome.objects.filter(customer_id__in={t["customer_id"] for t in tasks}).order_by("occurred_at")
    for customer_id, at, kind in rows.values_list("customer_id", "occurred_at", "kind"):
        by_customer[customer_id].append((at, kind))
    result: dict[int, str] = {}
    for task in tasks:
        start, end = task["created_at"], task["created_at"] + timedelta(days=OUTCOME_DAYS)
        for at, kind in by_customer[task["customer_id"]]:
            if start < at <= end:
                lost = kind in (OutcomeKind.CHURNED, OutcomeKind.DOWNGRADED)
                result[task["id"]] = "churned" if lost else "renewed"
                break
    return result


def effect_report(now: datetime) -> list[PlaybookEffect]:
    """For each playbook, tasks old enough to judge (created EFFECT_DAYS or more ago), split
    by whether someone acted in time, late, or not at all."""
    tasks = list(
        Task.objects.filter(created_at__lte=now - timedelta(days=EFFECT_DAYS), created_at__gte=now - EFFECT_HISTORY)
        .exclude(score_at_open__isnull=True)
        .values(
            "id", "playbook_id", "customer_id", "created_at", "due_at", "closed_at", "close_reason", "score_at_open"
        )
    )
    after = _score_after(tasks)
    outcomes = _outcomes_after(tasks)
    by_playbook: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for task in tasks:
        by_playbook[task["playbook_id"]].append(task)
    report = []
    for playbook in Playbook.objects.all():
        mine = by_playbook.get(playbook.pk, [])
        groups = []
        for name in GROUPS:
            members = [t for t in mine if _group(t) == name]
            changes = [after[t["id"]] - t["score_at_open"] for t in members if t["id"] in after]
            judged = [outcomes[t["id"]] for t in members if t["id"] in outcomes]
            groups.append(
                GroupEffect(
                    name=name,
                    score_change=summarise(changes),
                    with_outcome=len(judged),
                    renewed=judged.count("renewed"),
                    churned=judged.count("churned"),
                )
            )
        report.append(PlaybookEffect(playbook=playbook, groups=groups, tasks=len(mine)))
    return report


# -- the managers' digest -------------------------------------------------------------------


def digest_for(manager: Any, now: datetime) -> dict[str, Any]:
    team = team_member_ids(manager)
    mine = Task.objects.filter(Q(assignee_id__in=team) | Q(escalated_to=manager))
    since = now - timedelta(days=1)
    return {
        "overdue": list(with_people(mine.filter(status=TaskStatus.OPEN, due_at__lt=now)).order_by("due_at")[:50]),
        "created": mine.filter(created_at__gte=since).count(),
        "closed": mine.filter(closed_at__gte=since).count(),
        "escalated": list(with_people(mine.filter(escalated_at__gte=since, escalated_to=manager))[:50]),
    }
