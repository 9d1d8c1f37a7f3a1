from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin
from interactions.models import ChannelDefault, Interaction
from interactions.services import CHANGEABLE_FIELDS, interaction_change, interaction_delete


@admin.register(ChannelDefault)
class ChannelDefaultAdmin(AuditedModelAdmin):
    list_display = ["channel", "stage", "intensity"]
    list_editable = ["stage", "intensity"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "customer",
        "channel",
        "stage",
        "valence",
        "intensity",
        "staff",
        "source",
        "external_id",
    ]
    list_filter = ["channel", "stage", "valence", "direction", "source", "resolved_on_first_contact"]
    search_fields = ["customer__name", "customer__ref", "summary", "external_id"]
    list_select_related = ["customer", "stage", "staff"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["customer", "journey", "resolves", "staff"]
    readonly_fields = [
        "customer",
        "journey",
        "occurred_at",
        "source",
        "external_id",
        "resolves",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New touchpoints come through the logging form and the API, which assign the
        # journey and queue the memory refresh.
        return False

    def save_model(self, request: HttpRequest, obj: Interaction, form: Any, change: bool) -> None:
        changes = {name: getattr(obj, name) for name in form.changed_data if name in CHANGEABLE_FIELDS}
        if changes:
            fresh = Interaction.objects.get(pk=obj.pk)
            interaction_change(interaction=fresh, actor=request.user, **changes)

    def delete_model(self, request: HttpRequest, obj: Interaction) -> None:
        interaction_delete(interaction=obj, actor=request.user, reason="deleted in the admin")

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for interaction in queryset:
            self.delete_model(request, interaction)
