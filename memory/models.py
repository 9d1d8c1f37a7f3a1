from django.conf import settings
from django.db import models
from django.db.models import Q


class Band(models.TextChoices):
    AT_RISK = "at_risk", "At risk"
    NEUTRAL = "neutral", "Neutral"
    GOOD = "good", "Good"


class MemoryReading(models.Model):
    """The engine's state of one customer and its reading: what a memory row holds, and what
    a scoring version stages for every customer before it goes live."""

    score = models.FloatField(default=50.0)
    band = models.CharField(max_length=16, choices=Band.choices, default=Band.NEUTRAL)
    value = models.FloatField(default=0.0, help_text="Remembered value before display scaling.")
    score_as_of = models.DateTimeField(null=True, blank=True)
    lived_score = models.FloatField(
        null=True,
        blank=True,
        help_text="What the customer lived through: the recency-weighted average of their touchpoints, 0..100.",
    )
    trend_7d = models.FloatField(null=True, blank=True)
    trend_30d = models.FloatField(null=True, blank=True)
    state = models.JSONField(default=dict, blank=True)
    breakdown = models.JSONField(default=dict, blank=True)
    # What the state reflects (compare with Customer.history_version / rewrite_version).
    history_version = models.PositiveBigIntegerField(default=0)
    rewrite_version = models.PositiveBigIntegerField(default=0)
    max_interaction_id = models.BigIntegerField(default=0)
    parameters_fingerprint = models.CharField(max_length=64, blank=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    full_recomputes = models.PositiveIntegerField(default=0)
    next_touch_gain = models.FloatField(
        default=0.0, help_text="Score points one very good call now would add (as of score_as_of)."
    )

    class Meta:
        abstract = True


class CustomerMemory(MemoryReading):
    """The running memory of one customer: the engine's state and its latest reading."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="memory"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "customer memories"
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="memory_score_range"),
            models.CheckConstraint(condition=Q(band__in=Band.values), name="memory_band_valid"),
        ]
        indexes = [
            models.Index(fields=["band", "score"], name="memory_band_score_idx"),
            models.Index(fields=["-next_touch_gain"], name="memory_next_touch_idx"),
            # The customer directory's sorts walk these and stop after a page. The latest
            # touch first (DESC NULLS LAST) has its index in migration 0003: SQLite cannot
            # declare NULLS LAST in an index.
            models.Index(fields=["score", "customer"], name="memory_score_idx"),
            models.Index(fields=["trend_30d", "customer"], name="memory_trend_idx"),
            # Memories computed under other numbers than the ones in force (memory/services.py).
            models.Index(fields=["parameters_fingerprint"], name="memory_fingerprint_idx"),
        ]

    def __str__(self) -> str:
        return f"memory of customer {self.customer_id}: {self.score:.0f}"


class ScoreSnapshot(models.Model):
    """One reading a day per customer, for trend lines and 7/30-day change."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="score_snapshots")
    day = models.DateField()
    score = models.FloatField()
    band = models.CharField(max_length=16, choices=Band.choices)
    value = models.FloatField()

    class Meta:
        ordering = ["customer", "day"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="one_snapshot_per_customer_day"),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="snapshot_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day}: {self.score:.0f}"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPLYING = "applying", "Applying"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    DISCARDED = "discarded", "Discarded"


class ApplyPhase(models.TextChoices):
    IDLE = "", "Idle"
    # Every customer's memory is computed under the version into StagedMemory rows, while
    # the pages go on serving the scores of the version in force.
    COMPUTING = "computing", "Computing every score"
    # The version is in force; the staged rows replace the live ones, a chunk at a time.
    SWITCHING = "switching", "Switching scores over"


class ScoringVersion(models.Model):
    """One set of the memory model's numbers: its parameters (display mapping and band
    thresholds among them) and the default intensity of each channel. Administrators edit
    a draft, preview it, and apply it; exactly one version is in force at a time, and the
    one before it can be brought back. Without any, the environment's MEMORY_MODEL is."""

    number = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    parameters = models.JSONField(help_text="MemoryParameters, every field.")
    channel_intensities = models.JSONField(default=dict, help_text="Default intensity (1-5) of each channel.")
    note = models.TextField(blank=True, help_text="What this version changes and why.")
    origin = models.CharField(max_length=32, default="edited", help_text="edited, environment or calibration.")
    calibration = models.JSONField(default=dict, blank=True, help_text="The fit behind a calibrated draft.")
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    apply_reason = models.TextField(blank=True)
    apply_phase = models.CharField(max_length=16, choices=ApplyPhase.choices, default=ApplyPhase.IDLE, blank=True)
    apply_done = models.PositiveIntegerField(default=0)
    apply_total = models.PositiveIntegerField(default=0)
    # The last customer id done in the current phase: a task that died resumes after it.
    apply_cursor = models.BigIntegerField(default=0)
    apply_problem = models.TextField(blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=VersionStatus.values), name="scoring_version_status_valid"),
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_scoring_version"),
            # One change of the model at a time: a second apply would race the first.
            models.UniqueConstraint(
                fields=["apply_phase"], condition=~Q(apply_phase=""), name="one_scoring_version_applying"
            ),
        ]

    def __str__(self) -> str:
        return f"model version {self.number} ({self.get_status_display().lower()})"

    @property
    def in_progress(self) -> bool:
        return self.apply_phase != ApplyPhase.IDLE

    @property
    def percent_done(self) -> int:
        return int(100 * self.apply_done / self.apply_total) if self.apply_total else 0


class StagedMemory(MemoryReading):
    """A customer's memory computed under a version being applied, not yet live; `journeys`
    holds the remembered values of their journeys under it ([id, value, salience, peak, end])."""

    version = models.ForeignKey(ScoringVersion, on_delete=models.CASCADE, related_name="staged")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    journeys = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "customer"], name="one_staged_memory_per_version")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} under version {self.version_id}: {self.score:.0f}"
