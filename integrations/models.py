import secrets

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

from config.rest.scopes import Scope
from integrations.egress import ForbiddenDestination, resolve_destination


class APIKey(AbstractAPIKey):
    """A key for another system: stored hashed, shown once, revocable in the admin."""

    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.PUSH)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [models.CheckConstraint(condition=Q(scope__in=Scope.values), name="api_key_scope_valid")]

    def allows(self, needed: str) -> bool:
        return self.scope == Scope.FULL or self.scope == needed


class Event(models.TextChoices):
    INTERACTION_RECORDED = "interaction.recorded", "Interaction recorded"
    BAND_CHANGED = "customer.band_changed", "Customer's memory band changed"
    COMPLAINT_UNRECOVERED = "complaint.unrecovered", "Complaint still waiting for recovery"
    TASK_CREATED = "task.created", "Follow-up task created"
    TASK_OVERDUE = "task.overdue", "Follow-up task overdue"
    TASK_COMPLETED = "task.completed", "Follow-up task closed"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=100)
    # http(s) only: urllib would also follow ftp:// or file:// URLs.
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    secret = models.CharField(
        max_length=100, default=new_webhook_secret, help_text="Shared secret for the HMAC signature."
    )
    events = models.JSONField(default=list, help_text="Event names this subscription receives.")
    complaint_wait_hours = models.PositiveIntegerField(
        default=48, help_text="complaint.unrecovered fires when a complaint waits longer than this."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} -> {self.url}"

    def clean(self) -> None:
        super().clean()
        if self.url:
            try:
                resolve_destination(self.url)
            except ForbiddenDestination as exc:
                raise ValidationError({"url": str(exc)}) from None

    def wants(self, event: str) -> bool:
        return self.active and event in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one subscription: the delivery log."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    # Unique per subscription, so an event noticed twice is delivered once.
    event_key = models.CharField(max_length=120)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_key"], name="one_delivery_per_event"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription.name}: {self.status}"
