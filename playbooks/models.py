"""Playbooks (a trigger on customers' memories and what to do about it) and the follow-up
tasks they create."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TriggerKind(models.TextChoices):
    AT_RISK = "at_risk", "Customer is in the at-risk band"
    SCORE_DROP = "score_drop", "Score dropped by N points"
    COMPLAINT_UNRECOVERED = "complaint_unrecovered", "Complaint still unrecovered after its SLA"
    JOURNEY_ENDED_BADLY = "journey_ended_badly", "A journey ended badly"
    NEGATIVE_LAST_TOUCH = "negative_last_touch", "Latest touch was negative and nothing followed"
    DETRACTOR = "detractor", "A detractor answered a survey"
    PROMOTER = "promoter", "A promoter answered a survey"


# A state holds while something is true (a band, a wait); its task closes as "resolved by
# itself" when it stops being true. An event happened once (a journey ended, a survey was
# answered); its task stays until someone works it.
STATE_KINDS = frozenset(
    {TriggerKind.AT_RISK, TriggerKind.SCORE_DROP, TriggerKind.COMPLAINT_UNRECOVERED, TriggerKind.NEGATIVE_LAST_TOUCH}
)


class Playbook(models.Model):
    """A trigger, the conditions that narrow it, and the task it asks for."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=32, choices=TriggerKind.choices)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, help_text="What the assignee should do, in words.")
    # The trigger's numbers; each kind reads the ones it needs (playbooks/triggers.py).
    drop_points = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Score drop: how many points."
    )
    window_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Score drop: 7 or 30 days. Events: how far back a journey end or a survey is still news.",
    )
    wait_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text="Complaint: hours it may wait for recovery. Negative touch: hours with nothing after it.",
    )
    # Conditions: every one given must hold.
    segment = models.ForeignKey(
        "customers.Segment", null=True, blank=True, on_delete=models.CASCADE, related_name="playbooks"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only customers this person owns.",
    )
    channel = models.CharField(
        max_length=32, blank=True, help_text="Only when the touchpoint behind the trigger came on this channel."
    )
    stage = models.ForeignKey(
        "journeys.JourneyStage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only when the touchpoint behind the trigger was at this stage.",
    )
    max_score = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Only customers whose memory score is at most this.",
    )
    # The task.
    sla_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text="The task is due this many hours after it is created; overdue by as long again, it escalates.",
    )
    assign_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Customers without an owner: the member of this group with the fewest open tasks.",
    )
    cooldown_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MaxValueValidator(365)],
        help_text="After a task is closed, no new one for the same customer for this many days.",
    )
    send_email = models.BooleanField(default=True, help_text="E-mail the assignee when a task is created.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="playbook_name_not_blank"),
            models.CheckConstraint(condition=Q(kind__in=TriggerKind.values), name="playbook_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_state(self) -> bool:
        return self.kind in STATE_KINDS


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    SNOOZED = "snoozed", "Snoozed"
    CLOSED = "closed", "Closed"


class CloseReason(models.TextChoices):
    ACTED = "acted", "Done: we acted"
    NO_ACTION_NEEDED = "no_action_needed", "No action needed"
    COULD_NOT_REACH = "could_not_reach", "Could not reach the customer"
    RESOLVED_ITSELF = "resolved_itself", "Resolved by itself"


# What a person may close a task with; "resolved by itself" is the evaluator's alone.
CLOSED_BY_PEOPLE = [c for c in CloseReason.choices if c[0] != CloseReason.RESOLVED_ITSELF]
OPEN_STATUSES = (TaskStatus.OPEN, TaskStatus.SNOOZED)


class EmailStatus(models.TextChoices):
    NONE = "", "Not sent"
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class Task(models.Model):
    """A follow-up someone was asked to do about a customer, and what came of it."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="tasks")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="tasks")
    # What fired it: "" for a state, "journey:12" or "interaction:34" for an event (a
    # customer's one event makes one task, ever).
    subject_key = models.CharField(max_length=60, blank=True)
    reason = models.TextField(help_text="Why the task exists, in words.")
    suggestion = models.TextField(blank=True, help_text="The next touch the model suggests.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_at = models.DateTimeField()
    snoozed_until = models.DateTimeField(null=True, blank=True)
    score_at_open = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    close_note = models.TextField(blank=True, max_length=2000)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interaction = models.ForeignKey(
        "interactions.Interaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        help_text="The touchpoint logged to do it.",
    )
    overdue_noticed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    email_status = models.CharField(max_length=8, choices=EmailStatus.choices, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # No storms: one open (or snoozed) task per customer and playbook.
            models.UniqueConstraint(
                fields=["playbook", "customer"],
                condition=Q(status__in=["open", "snoozed"]),
                name="one_open_task_per_customer_playbook",
            ),
            models.UniqueConstraint(
                fields=["playbook", "customer", "subject_key"],
                condition=~Q(subject_key=""),
                name="one_task_per_event",
            ),
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False) & ~Q(close_reason="")
                | ~Q(status="closed") & Q(closed_at__isnull=True, close_reason=""),
                name="task_closed_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="snoozed") | Q(snoozed_until__isnull=False), name="task_snooze_has_end"
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_idx"),
            models.Index(fields=["status", "due_at"], name="task_status_due_idx"),
            models.Index(fields=["playbook", "created_at"], name="task_playbook_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.playbook.name}: customer {self.customer_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, now: object) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at < now  # type: ignore[operator]

    @property
    def done_in_time(self) -> bool:
        return self.close_reason == CloseReason.ACTED and self.closed_at is not None and self.closed_at <= self.due_at


class PendingEvaluation(models.Model):
    """A customer whose memory was stored and whose playbooks are still to be evaluated:
    the outbox of the evaluation stage, written once the memory commits
    (playbooks.tasks.schedule_evaluation) and drained in batches by one coalesced task, so
    a lost task or a broker outage delays the evaluation but never skips it.

    A customer id, not a foreign key: the check would lock the customer row (FOR KEY
    SHARE) against the write path's FOR UPDATE. A note of a deleted customer finds nothing
    to evaluate and goes with its batch."""

    customer_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"customer {self.customer_id} waits for its playbooks"
