from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from audit.admin import AuditedModelAdmin
from integrations.models import APIKey, WebhookDelivery, WebhookSubscription, new_webhook_secret


@admin.register(APIKey)
class ScopedAPIKeyAdmin(AuditedModelAdmin, APIKeyModelAdmin):  # type: ignore[misc]  # both extend save_model
    list_display = (*APIKeyModelAdmin.list_display, "scope")  # type: ignore[assignment]
    list_filter = (*APIKeyModelAdmin.list_filter, "scope")  # type: ignore[assignment]


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Where to POST events (http or https).")
    rotate_secret = forms.BooleanField(
        required=False, help_text="Make a new signing secret; it is shown once, after saving."
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "events", "complaint_wait_hours", "active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedModelAdmin):
    """The signing secret is shown once, when it is made (on creation or rotation), and
    never again: not in the form, not in the audit log (redacted)."""

    form = WebhookSubscriptionForm
    list_display = ["name", "url", "events", "complaint_wait_hours", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fresh = not change or form.cleaned_data.get("rotate_secret")
        if fresh:
            obj.secret = new_webhook_secret()
            if "secret" not in form.changed_data:
                form.changed_data.append("secret")
        super().save_model(request, obj, form, change)
        if fresh:
            messages.warning(
                request,
                f"Signing secret for {obj.name}: {obj.secret} . Copy it now into the receiving system: "
                "it will not be shown again.",
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "subscription", "event", "status", "attempts", "last_status_code", "delivered_at"]
    list_filter = ["status", "event", "subscription"]
    search_fields = ["event_key", "last_error"]
    list_select_related = ["subscription"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
