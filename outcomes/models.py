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
