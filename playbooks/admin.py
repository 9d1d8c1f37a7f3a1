from django.contrib import admin

from audit.admin import AuditedModelAdmin
from playbooks.models import Playbook, Task


@admin.register(Playbook)
class PlaybookAdmin(AuditedModelAdmin):
    list_display = ("name", "kind", "enabled", "segment", "sla_hours")
    list_filter = ("kind", "enabled")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("playbook", "customer", "assignee", "status", "due_at", "close_reason")
    list_filter = ("status", "playbook")
    raw_id_fields = ("customer", "assignee", "closed_by", "interaction", "escalated_to")
    readonly_fields = ("created_at", "email_status", "email_attempts", "email_error")
