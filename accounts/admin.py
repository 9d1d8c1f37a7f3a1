"""Users and roles in the admin: audited, and no one raises their own privileges.

Administrators (the role) manage people and their roles, but only a superuser may make
someone a superuser, hand out single permissions, change what a role may do, or touch a
superuser's account: otherwise a member of Administrators could tick `is_superuser` on
their own account, or add any permission to their own group.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest
from django.shortcuts import redirect

from accounts.models import StaffProfile
from audit.admin import AuditedModelAdmin
from audit.models import Action
from audit.services import audit_record

SUPERUSER_ONLY_FIELDS = ("is_superuser", "user_permissions")


def _names(objects: Any) -> list[str]:
    return sorted(str(o) for o in objects)


class RelationsAudited(AuditedModelAdmin):
    """Many-to-many changes (groups, permissions) are saved after the object: record them
    then, as before/after lists of names."""

    audited_relations: tuple[str, ...] = ()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        obj = form.instance
        before = {name: _names(getattr(obj, name).all()) for name in self.audited_relations} if change else {}
        super().save_related(request, form, formsets, change)
        after = {name: _names(getattr(obj, name).all()) for name in self.audited_relations}
        changes = {name: (before.get(name, []), after[name]) for name in after if before.get(name, []) != after[name]}
        if changes:
            audit_record(actor=request.user, action=Action.UPDATE, obj=obj, changes=changes, reason="roles changed")


admin.site.unregister(User)
admin.site.unregister(Group)


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    fk_name = "user"
    can_delete = False
    verbose_name = "reporting line"
    autocomplete_fields = ("manager",)


@admin.register(User)
class AuditedUserAdmin(RelationsAudited, UserAdmin):
    audited_relations = ("groups", "user_permissions")
    inlines = (StaffProfileInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += SUPERUSER_ONLY_FIELDS
        return fields

    def _guards_a_superuser(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._guards_a_superuser(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._guards_a_superuser(request, obj) and super().has_delete_permission(request, obj)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        target = self.get_object(request, object_id)
        if target is not None and target.interactions.exists():
            messages.error(
                request,
                f"{target.get_username()} logged touchpoints: deleting them would erase who did what. "
                "Untick 'Active' to close the account instead.",
            )
            return redirect("admin:auth_user_change", target.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        keep = [u.get_username() for u in queryset if u.interactions.exists()]
        if keep:
            messages.error(request, f"Not deleted (they logged touchpoints; deactivate them): {', '.join(keep)}.")
        super().delete_queryset(request, queryset.exclude(interactions__isnull=False).distinct())

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            target = self.get_object(request, id)
            if target is not None:
                audit_record(actor=request.user, action=Action.UPDATE, obj=target, reason="password set in the admin")
        return response


@admin.register(Group)
class AuditedGroupAdmin(RelationsAudited, GroupAdmin):
    audited_relations = ("permissions",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else (*fields, "permissions")
