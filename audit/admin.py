from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import Action, AuditEntry
from audit.services import audit_record


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_repr", "object_id", "reason"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    # The log is append-only: nobody edits or deletes history through the admin.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# Fields whose values never enter the append-only log: it is readable by every
# administrator, and a secret written there cannot be taken back.
SECRET_FIELDS = frozenset({"secret", "password", "hashed_key"})
REDACTED = "[redacted]"


class AuditedModelAdmin(admin.ModelAdmin):
    """Admin changes to settings-like models (stages, channel defaults, segments, keys,
    webhooks, users, roles) leave an audit entry with what changed; many-to-many fields
    are left to save_related, secrets are redacted."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        concrete = {f.name for f in type(obj)._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in concrete]
        before = {}
        if change and obj.pk:
            old = type(obj).objects.filter(pk=obj.pk).values(*changed).first() or {}
            before = {name: old.get(name) for name in changed}
        super().save_model(request, obj, form, change)
        changes = {
            name: (REDACTED, REDACTED) if name in SECRET_FIELDS else (before.get(name), form.cleaned_data.get(name))
            for name in changed
        }
        audit_record(actor=request.user, action=Action.UPDATE if change else Action.CREATE, obj=obj, changes=changes)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(actor=request.user, action=Action.DELETE, obj=obj, reason="deleted in the admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
