from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from memory.models import CustomerMemory, ScoreSnapshot
from memory.services import memory_refresh


@admin.register(CustomerMemory)
class CustomerMemoryAdmin(admin.ModelAdmin):
    list_display = ["customer", "score", "band", "trend_7d", "trend_30d", "last_interaction_at", "score_as_of"]
    list_filter = ["band"]
    search_fields = ["customer__name", "customer__ref"]
    list_select_related = ["customer"]
    ordering = ["score"]
    actions = ["recompute"]
    readonly_fields = [f.name for f in CustomerMemory._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Recompute from the whole history")
    def recompute(self, request: HttpRequest, queryset: QuerySet[CustomerMemory]) -> None:
        for memory in queryset:
            memory_refresh(customer_id=memory.customer_id, force_recompute=True)
        self.message_user(request, f"Recomputed {queryset.count()} memories.", messages.SUCCESS)


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(admin.ModelAdmin):
    list_display = ["customer", "day", "score", "band"]
    list_filter = ["band", "day"]
    search_fields = ["customer__name", "customer__ref"]
    list_select_related = ["customer"]
    date_hierarchy = "day"
    readonly_fields = ["customer", "day", "score", "band", "value"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
