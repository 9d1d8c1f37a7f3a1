from django.db import models
from django.db.models import Q


class Band(models.TextChoices):
    AT_RISK = "at_risk", "At risk"
    NEUTRAL = "neutral", "Neutral"
    GOOD = "good", "Good"


class CustomerMemory(models.Model):
    """The running memory of one customer: the engine's state and its latest reading."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="memory"
    )
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
