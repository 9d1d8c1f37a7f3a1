from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin
from outcomes.models import Outcome
from outcomes.services import outcome_delete, refresh_churn


@admin.register(Outcome)
class OutcomeAdmin(AuditedModelAdmin):
    list_display = ["customer", "kind", "occurred_at", "source", "external_id", "recorded_by"]
    list_filter = ["kind", "source"]
    search_fields = ["customer__name", "customer__ref", "external_id"]
    list_select_related = ["customer", "recorded_by"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["recorded_by", "created_at"]
    date_hierarchy = "occurred_at"

    def save_model(self, request: HttpRequest, obj: Outcome, form: Any, change: bool) -> None:
        if not change:
            obj.recorded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        refresh_churn([obj.customer_id])  # a churn added or changed here marks the customer too

    def delete_model(self, request: HttpRequest, obj: Outcome) -> None:
        outcome_delete(outcome=obj, actor=request.user, reason="deleted in the admin")
