from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from audit.admin import AuditedModelAdmin
from integrations.models import APIKey, WebhookDelivery, WebhookSubscription


@admin.register(APIKey)
class ScopedAPIKeyAdmin(AuditedModelAdmin, APIKeyModelAdmin):  # type: ignore[misc]  # both extend save_model
    list_display = (*APIKeyModelAdmin.list_display, "scope")  # type: ignore[assignment]
    list_filter = (*APIKeyModelAdmin.list_filter, "scope")  # type: ignore[assignment]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedModelAdmin):
    list_display = ["name", "url", "events", "complaint_wait_hours", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]


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
