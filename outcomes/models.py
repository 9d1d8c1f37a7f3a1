"""What happened to a customer afterwards: the facts the memory score is judged against."""

from django.conf import settings
from django.db import models
from django.db.models import Q

NOTE_MAX_LENGTH = 2000


class OutcomeKind(models.TextChoices):
    RENEWED = "renewed", "Renewed"
    EXPANDED = "expanded", "Expanded"
    DOWNGRADED = "downgraded", "Downgraded"
    CHURNED = "churned", "Churned"


class Outcome(models.Model):
    """A lifecycle event with its date. Survey answers are outcomes too; they stay where
    they arrive, as the rating of a survey touchpoint."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="outcomes")
    kind = models.CharField(max_length=16, choices=OutcomeKind.choices)
    occurred_at = models.DateTimeField(help_text="When it took effect (the renewal date, the cancellation date).")
    note = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    source = models.CharField(max_length=50, help_text="System that sent it; with external_id, the idempotency key.")
    external_id = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="outcome_idempotency_key"),
            models.CheckConstraint(condition=Q(kind__in=OutcomeKind.values), name="outcome_kind_valid"),
            models.CheckConstraint(condition=~Q(source="") & ~Q(external_id=""), name="outcome_key_not_blank"),
        ]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="outcome_customer_idx"),
            models.Index(fields=["kind", "occurred_at"], name="outcome_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_at:%Y-%m-%d}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BacktestRun(models.Model):
    """One backtest, run in the background: at one cut-off, or at every quarter (rolling)."""

    cutoff = models.DateTimeField(help_text="Scores from the touchpoints before this; outcomes in the window after.")
    window_days = models.PositiveSmallIntegerField(default=90)
    rolling = models.BooleanField(default=False, help_text="Also every quarter back to a year of history.")
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    reports = models.JSONField(default=list, blank=True, help_text="One report per cut-off, the chosen one last.")
    problem = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="backtest_status_valid"),
            models.CheckConstraint(condition=Q(window_days__gte=7, window_days__lte=730), name="backtest_window"),
        ]

    def __str__(self) -> str:
        return f"Backtest at {self.cutoff:%Y-%m-%d} ({self.window_days} days)"

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)


class VersionPreview(models.Model):
    """What a scoring version would change, computed in the background on the real data:
    every score (or a sample) as of now under it and under the version in force, and the
    backtest of both at the cut-off `window_days` ago."""

    version = models.ForeignKey("memory.ScoringVersion", on_delete=models.CASCADE, related_name="previews")
    against = models.JSONField(default=dict, help_text="The parameters in force it was compared with.")
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    whatif = models.JSONField(default=dict, blank=True)
    backtests = models.JSONField(default=dict, blank=True, help_text="'current' and 'draft' reports.")
    window_days = models.PositiveSmallIntegerField(default=90)
    problem = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text="The what-if alone.")
    backtest_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="preview_status_valid")]

    def __str__(self) -> str:
        return f"Preview of version {self.version_id} ({self.get_status_display().lower()})"

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)
