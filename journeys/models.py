from django.db import models
from django.db.models import F, Q


class JourneyStage(models.Model):
    """One of Patrick O'Connell's five stages of an experience (seeds/003)."""

    key = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=60)
    description = models.TextField()
    position = models.PositiveSmallIntegerField(unique=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name


class CloseReason(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation reached"
    QUIET_GAP = "quiet_gap", "Quiet gap"
    MAX_SPAN = "max_span", "Longest episode reached"
    SUPERSEDED = "superseded", "Older than a later journey"


class Journey(models.Model):
    """One episode of a customer's experience: a purchase, an onboarding, a support case.

    A journey with a `ref` was named by another system (an order or ticket id); one
    without is assigned automatically (journeys/services.py has the rules).
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="journeys")
    ref = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField()
    last_interaction_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    interaction_count = models.PositiveIntegerField(default=0)
    # Written by the memory engine (memory/services.py).
    remembered_value = models.FloatField(null=True, blank=True)
    salience = models.FloatField(null=True, blank=True)
    peak_interaction = models.ForeignKey(
        "interactions.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_interaction = models.ForeignKey(
        "interactions.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "ref"], condition=~Q(ref=""), name="journey_ref_unique_per_customer"
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(ref="", closed_at__isnull=True),
                name="one_open_auto_journey_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(last_interaction_at__gte=F("started_at")), name="journey_last_after_start"
            ),
            models.CheckConstraint(
                condition=(Q(closed_at__isnull=True) & Q(close_reason=""))
                | (Q(closed_at__gte=F("started_at")) & Q(close_reason__in=CloseReason.values)),
                name="journey_closed_consistently",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-started_at"], name="journey_customer_start_idx"),
            # The dashboard's bad endings: open journeys by their last touch.
            models.Index(
                fields=["last_interaction_at"], condition=Q(closed_at__isnull=True), name="journey_open_last_idx"
            ),
        ]

    def __str__(self) -> str:
        label = self.ref or f"journey #{self.pk}"
        return f"{label} ({self.started_at:%Y-%m-%d})"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None
