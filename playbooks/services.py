"""Playbooks' writes: evaluating the triggers into tasks, working the tasks, and following up
on the ones that wait (overdue, escalated, snoozed, unsent e-mail)."""

import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.teams import active_staff, managers_by_person
from audit.models import Action
from audit.services import audit_record
from customers.models import Customer
from integrations.models import Event
from integrations.tasks import webhooks_emit
from interactions.models import Interaction
from memory.models import CustomerMemory
from playbooks.assignment import Assigner
from playbooks.models import (
    CLOSED_BY_PEOPLE,
    OPEN_STATUSES,
    CloseReason,
    EmailStatus,
    PendingEvaluation,
    Playbook,
    Task,
    TaskStatus,
)
from playbooks.notify import assignment_email, escalation_email, task_payloads
from playbooks.triggers import Finding, findings

logger = logging.getLogger(__name__)

BATCH = 2000
MAX_EMAIL_ATTEMPTS = 8
MAX_SNOOZE = timedelta(days=14)


@dataclass
class Evaluation:
    created: int = 0
    resolved: int = 0
    # The new tasks whose assignee is to be e-mailed: the caller queues them (playbooks.tasks).
    emails: list[int] = field(default_factory=list)

    def add(self, other: "Evaluation") -> None:
        self.created += other.created
        self.resolved += other.resolved
        self.emails += other.emails


# -- evaluating ---------------------------------------------------------------------------


def playbooks_evaluate(*, customer_ids: Iterable[int] | None = None, now: datetime | None = None) -> Evaluation:
    """Every enabled playbook, for these customers (or all): a task for each customer a trigger
    newly holds for, and "resolved by itself" for each open task whose state no longer holds."""
    now = now or timezone.now()
    ids = None if customer_ids is None else sorted(set(customer_ids))
    total = Evaluation()
    for playbook in Playbook.objects.filter(enabled=True):
        if ids is None:
            total.add(_evaluate(playbook, None, now))
            continue
        for start in range(0, len(ids), BATCH):
            total.add(_evaluate(playbook, ids[start : start + BATCH], now))
    return total


def evaluations_pend(customer_ids: Iterable[int]) -> None:
    """Note these customers for evaluation (one statement; repeats are one note)."""
    PendingEvaluation.objects.bulk_create(
        [PendingEvaluation(customer_id=pk) for pk in sorted(set(customer_ids))], ignore_conflicts=True
    )


def pending_evaluations_run(*, now: datetime | None = None) -> Evaluation:
    """Evaluate the noted customers, a batch at a time, until a batch comes back short.
    Each batch is taken and evaluated in one transaction: a failure puts it back, and two
    workers draining at once take different customers (the rows are locked, the other
    skips them). It stops at a short batch rather than at none, so a steady stream of
    notes cannot keep one task running forever: notes made meanwhile queued a task of their
    own (playbooks.tasks.evaluate_pending_playbooks)."""
    total = Evaluation()
    while True:
        with transaction.atomic():
            taken = list(
                PendingEvaluation.objects.select_for_update(skip_locked=True)
                .order_by("customer_id")
                .values_list("customer_id", flat=True)[:BATCH]
            )
            if taken:
                PendingEvaluation.objects.filter(customer_id__in=taken).delete()
                total.add(playbooks_evaluate(customer_ids=taken, now=now))
        if len(taken) < BATCH:
            return total


@transaction.atomic
def _evaluate(playbook: Playbook, customer_ids: list[int] | None, now: datetime) -> Evaluation:
    found = findings(playbook, now=now, customer_ids=customer_ids)
    open_tasks = Task.objects.filter(playbook=playbook, status__in=OPEN_STATUSES)
    if customer_ids is not None:
        open_tasks = open_tasks.filter(customer_id__in=customer_ids)
    open_by_customer = dict(open_tasks.values_list("customer_id", "id"))
    resolved = 0
    if playbook.is_state:
        gone = [task_id for customer_id, task_id in open_by_customer.items() if customer_id not in found]
        resolved = _resolve_by_itself(gone, now)
    fresh = [f for f in found.values() if f.customer_id not in open_by_customer]
    created = _create_tasks(playbook, _not_suppressed(playbook, fresh, now), now)
    emails = [pk for pk, email_status in created if email_status == EmailStatus.PENDING]
    return Evaluation(created=len(created), resolved=resolved, emails=emails)


def _resolve_by_itself(task_ids: list[int], now: datetime) -> int:
    if not task_ids:
        return 0
    closing = Task.objects.filter(pk__in=task_ids, status__in=OPEN_STATUSES)
    closed = list(closing.values_list("pk", flat=True))
    closing.update(status=TaskStatus.CLOSED, closed_at=now, close_reason=CloseReason.RESOLVED_ITSELF)
    _announce(Event.TASK_COMPLETED, closed, "closed")
    return len(closed)


def _not_suppressed(playbook: Playbook, fresh: list[Finding], now: datetime) -> list[Finding]:
    """No task for an event that already had one, nor within the cool-down after a closed task."""
    if not fresh:
        return []
    customer_ids = [f.customer_id for f in fresh]
    earlier = Task.objects.filter(playbook=playbook, customer_id__in=customer_ids)
    cooling = set(
        earlier.filter(closed_at__gte=now - timedelta(days=playbook.cooldown_days)).values_list(
            "customer_id", flat=True
        )
    )
    keys = [f.subject_key for f in fresh if f.subject_key]
    seen = set(earlier.filter(subject_key__in=keys).values_list("customer_id", "subject_key")) if keys else set()
    return [f for f in fresh if f.customer_id not in cooling and (f.customer_id, f.subject_key) not in seen]


def _suggestion(memory: Mapping[str, Any] | None) -> str:
    if memory is None:
        return "No memory yet: a first good contact sets how they will remember us."
    gain = memory["next_touch_gain"] or 0.0
    return (
        f"A very good call now would add about {gain:.1f} points to their memory score "
        f"({memory['score']:.0f} today); make it end well, the end is what they keep."
    )


def _create_tasks(playbook: Playbook, fresh: list[Finding], now: datetime) -> list[tuple[int, str]]:
    """Create the tasks; (id, e-mail status) of each one created."""
    if not fresh:
        return []
    customer_ids = [f.customer_id for f in fresh]
    owners = dict(Customer.objects.filter(pk__in=customer_ids).values_list("id", "owner_id"))
    memories = {
        row["customer_id"]: row
        for row in CustomerMemory.objects.filter(customer_id__in=customer_ids).values(
            "customer_id", "score", "next_touch_gain"
        )
    }
    assigner = Assigner(playbook)
    assigner.know_owners({owner for owner in owners.values() if owner is not None})
    rows = []
    for finding in fresh:
        assignee = assigner.pick(owners.get(finding.customer_id))
        memory = memories.get(finding.customer_id)
        rows.append(
            Task(
                playbook=playbook,
                customer_id=finding.customer_id,
                subject_key=finding.subject_key,
                reason=finding.reason,
                suggestion=_suggestion(memory),
                assignee_id=assignee,
                due_at=now + timedelta(hours=playbook.sla_hours),
                score_at_open=memory["score"] if memory else None,
                created_at=now,
                email_status=EmailStatus.PENDING if playbook.send_email and assignee else EmailStatus.NONE,
            )
        )
    # Two evaluations racing for one customer: the constraints keep one task, the other is skipped.
    Task.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    created = list(
        Task.objects.filter(
            playbook=playbook, customer_id__in=customer_ids, created_at=now, status=TaskStatus.OPEN
        ).values_list("pk", "email_status")
    )
    _announce(Event.TASK_CREATED, [pk for pk, _ in created], "created")
    return created


def _announce(event: Event, task_ids: list[int], suffix: str) -> None:
    if task_ids:
        tasks = Task.objects.filter(pk__in=task_ids).select_related("playbook", "customer", "assignee")
        webhooks_emit(event=event, items=task_payloads(tasks, suffix))


# -- working a task -------------------------------------------------------------------------


def _locked_open(task: Task) -> Task:
    locked = Task.objects.select_for_update().get(pk=task.pk)
    if not locked.is_open:
        raise ValidationError({"status": "This task is already closed."})
    return locked


@transaction.atomic
def task_close(*, task: Task, actor: Any, reason: str, note: str = "", interaction: Interaction | None = None) -> Task:
    """Close a task with what came of it; `interaction` is the touchpoint logged to do it."""
    allowed = [value for value, _ in CLOSED_BY_PEOPLE]
    if reason not in allowed:
        raise ValidationError({"reason": f"Choose one of: {', '.join(allowed)}."})
    if interaction is not None and interaction.customer_id != task.customer_id:
        raise ValidationError({"interaction": "That touchpoint is about another customer."})
    if len(note) > 2000:
        raise ValidationError({"note": "At most 2,000 characters."})
    locked = _locked_open(task)
    locked.status = TaskStatus.CLOSED
    locked.closed_at = timezone.now()
    locked.close_reason = reason
    locked.close_note = note
    locked.closed_by = actor if isinstance(actor, User) else None
    locked.interaction = interaction
    locked.snoozed_until = None
    locked.save()
    _announce(Event.TASK_COMPLETED, [locked.pk], "closed")
    return locked


@transaction.atomic
def task_snooze(*, task: Task, actor: Any, until: datetime) -> Task:
    """Hide the task from My work until `until`. The due time stays: the customer's clock
    does not stop, so a task snoozed past its due time is overdue when it wakes."""
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": "Snooze until a time in the future."})
    if until > now + MAX_SNOOZE:
        raise ValidationError({"until": "Snooze for at most 14 days; close the task if nothing is to be done."})
    locked = _locked_open(task)
    locked.status = TaskStatus.SNOOZED
    locked.snoozed_until = until
    locked.save(update_fields=["status", "snoozed_until"])
    return locked


@transaction.atomic
def task_reassign(*, task: Task, actor: Any, assignee: User) -> Task:
    """Give the task to someone else; they are e-mailed as if it were new (the caller queues it)."""
    if not active_staff().filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": "Assign to an active person with a role in Rememberly."})
    locked = _locked_open(task)
    if locked.assignee_id == assignee.pk:
        return locked
    locked.assignee = assignee
    locked.escalated_at, locked.escalated_to = None, None
    locked.email_status = EmailStatus.PENDING if locked.playbook.send_email else EmailStatus.NONE
    locked.email_attempts, locked.email_error = 0, ""
    locked.save()
    return locked


# -- rule changes -------------------------------------------------------------------------


@transaction.atomic
def playbook_save(*, playbook: Playbook, actor: Any, changed: dict[str, tuple[Any, Any]]) -> Playbook:
    """Store a playbook made or edited on the playbooks page, with its audit entry."""
    created = playbook.pk is None
    playbook.full_clean()
    playbook.save()
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        obj=playbook,
        changes=changed,
        reason="playbook created" if created else "playbook changed",
    )
    return playbook


# -- following up ---------------------------------------------------------------------------


@dataclass
class FollowUp:
    woken: int = 0
    overdue: int = 0
    escalated: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)


@transaction.atomic
def tasks_follow_up(*, now: datetime | None = None) -> FollowUp:
    """The periodic pass: wake snoozed tasks, announce newly overdue ones, escalate those
    overdue by as long again as their SLA to the assignee's manager, and pick up e-mails
    whose queued send was lost (a broker outage). Returns what the caller is to queue."""
    now = now or timezone.now()
    result = FollowUp()
    result.woken = Task.objects.filter(status=TaskStatus.SNOOZED, snoozed_until__lte=now).update(
        status=TaskStatus.OPEN, snoozed_until=None
    )
    overdue = list(
        Task.objects.filter(status=TaskStatus.OPEN, due_at__lt=now, overdue_noticed_at__isnull=True).values_list(
            "pk", flat=True
        )[:BATCH]
    )
    Task.objects.filter(pk__in=overdue).update(overdue_noticed_at=now)
    _announce(Event.TASK_OVERDUE, overdue, "overdue")
    result.overdue = len(overdue)
    result.escalated = _escalate(now)
    result.emails = list(
        Task.objects.filter(
            status__in=OPEN_STATUSES,
            email_status=EmailStatus.PENDING,
            email_attempts__lt=MAX_EMAIL_ATTEMPTS,
            created_at__lt=now - timedelta(minutes=10),
        ).values_list("pk", flat=True)[:BATCH]
    )
    return result


def _escalate(now: datetime) -> list[int]:
    late = [
        task
        for task in Task.objects.filter(status=TaskStatus.OPEN, due_at__lt=now, escalated_at__isnull=True).only(
            "pk", "due_at", "created_at", "assignee_id"
        )[:BATCH]
        if now - task.due_at >= task.due_at - task.created_at
    ]
    managers = managers_by_person([t.assignee_id for t in late if t.assignee_id is not None])
    for task in late:
        task.escalated_at = now
        task.escalated_to = managers.get(task.assignee_id) if task.assignee_id is not None else None
    Task.objects.bulk_update(late, ["escalated_at", "escalated_to"])
    return [task.pk for task in late if task.escalated_to is not None]


# -- e-mail ---------------------------------------------------------------------------------


def task_email_send(*, task_id: int) -> bool:
    """Send the assignee's e-mail of one task. True when done (sent, given up, or nothing to
    send); False when the mail server failed and it is worth trying again. The failure is
    kept on the task, so it shows on the page; the task itself is never lost."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("playbook", "customer", "assignee")
            .filter(pk=task_id)
            .first()
        )
        if task is None or task.email_status != EmailStatus.PENDING:
            return True
        if task.assignee is None or not task.assignee.email:
            task.email_status, task.email_error = EmailStatus.FAILED, "The assignee has no e-mail address."
            task.save(update_fields=["email_status", "email_error"])
            return True
        task.email_attempts += 1
        try:
            assignment_email(task).send()
        except (smtplib.SMTPException, OSError) as exc:
            task.email_error = f"{type(exc).__name__}: {exc}"[:500]
            if task.email_attempts >= MAX_EMAIL_ATTEMPTS:
                task.email_status = EmailStatus.FAILED
            logger.warning("e-mail of task %s failed (attempt %d): %s", task.pk, task.email_attempts, exc)
        else:
            task.email_status, task.email_error = EmailStatus.SENT, ""
        task.save(update_fields=["email_status", "email_attempts", "email_error"])
        return task.email_status != EmailStatus.PENDING


def escalation_email_send(*, task_id: int) -> None:
    """Tell the manager a task of their team is late (raises on a mail failure: retried)."""
    task = Task.objects.select_related("playbook", "customer", "assignee", "escalated_to").get(pk=task_id)
    if task.escalated_to is not None and task.escalated_to.email and task.is_open:
        escalation_email(task, task.escalated_to).send()
