from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Segment(models.Model):
    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="segment_name_not_blank")]

    def __str__(self) -> str:
        return self.name


class CustomerKind(models.TextChoices):
    BUSINESS = "business", "Business account"
    PERSON = "person", "Person"


class Customer(models.Model):
    ref = models.CharField(
        max_length=100, unique=True, help_text="External reference other systems use for this customer."
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CustomerKind.choices, default=CustomerKind.BUSINESS)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
        help_text="Staff member who owns the relationship.",
    )
    notes = models.TextField(blank=True, help_text="What matters to this customer (seeds/003).")
    # Bumped in the same transaction as every change to this customer's interactions:
    # history_version on any change, rewrite_version when the past changed (edit,
    # delete). The memory state records the versions it reflects, so a stale memory is
    # a plain comparison and an edited past forces a full recompute.
    history_version = models.PositiveBigIntegerField(default=0, editable=False)
    rewrite_version = models.PositiveBigIntegerField(default=0, editable=False)
    # The history version the stored memory has seen, written with the memory: a customer
    # whose memory is behind is found by a partial index on this table alone (reading the
    # memories to compare took 275 ms at 100,000 customers, on every drain).
    memory_version = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)
    churned_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Set while their latest lifecycle outcome is a churn."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(ref=""), name="customer_ref_not_blank"),
            models.CheckConstraint(condition=~Q(name=""), name="customer_name_not_blank"),
            models.CheckConstraint(condition=Q(kind__in=CustomerKind.values), name="customer_kind_valid"),
        ]
        # With the id, the directory's pages by name read their keys from the index alone.
        indexes = [
            models.Index(fields=["name", "id"], name="customer_name_id_idx"),
            models.Index(
                fields=["id"], condition=Q(history_version__gt=F("memory_version")), name="customer_memory_behind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ref})"
