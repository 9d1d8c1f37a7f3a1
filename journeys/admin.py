from django.contrib import admin

from audit.admin import AuditedModelAdmin
from journeys.models import Journey, JourneyStage


@admin.register(JourneyStage)
class JourneyStageAdmin(AuditedModelAdmin):
    list_display = ["position", "name", "key", "description"]
    list_display_links = ["name"]
    ordering = ["position"]
    search_fields = ["name", "key"]


# What the assignment rules (journeys/services.py) and the memory engine write.
ASSIGNED_FIELDS = [
    "customer",
    "ref",
    "started_at",
    "last_interaction_at",
    "closed_at",
    "close_reason",
    "interaction_count",
    "remembered_value",
]


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = ["__str__", *ASSIGNED_FIELDS]
    list_filter = ["close_reason", ("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["ref", "customer__name", "customer__ref"]
    list_select_related = ["customer"]
    date_hierarchy = "started_at"
    raw_id_fields = ["customer", "peak_interaction", "end_interaction"]
    # Journeys are assigned by the rules in journeys/services.py, not by hand.
    readonly_fields = [*ASSIGNED_FIELDS, "salience", "peak_interaction", "end_interaction", "created_at"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        # Deleting a journey would take its touchpoints with it, unaudited, and leave the
        # dashboard counts and memories counting them. Touchpoints are deleted one by one
        # (audited, memory recomputed) or with their customer.
        return False
