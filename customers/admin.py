from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin
from customers.models import Customer, Segment
from customers.services import customer_create, customer_delete, customer_update


@admin.register(Segment)
class SegmentAdmin(AuditedModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "ref", "kind", "company", "segment", "owner", "memory_score", "memory_band"]
    list_filter = ["kind", "segment", "owner", "memory__band"]
    search_fields = ["name", "ref", "email", "company"]
    list_select_related = ["segment", "owner", "memory"]
    autocomplete_fields = ["segment", "owner"]
    readonly_fields = ["history_version", "rewrite_version", "created_at", "updated_at"]
    fields = [
        "ref",
        "name",
        "kind",
        "email",
        "company",
        "segment",
        "owner",
        "notes",
        "history_version",
        "rewrite_version",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="memory", ordering="memory__score")
    def memory_score(self, obj: Customer) -> str:
        memory = getattr(obj, "memory", None)
        return f"{memory.score:.0f}" if memory else "-"

    @admin.display(description="band", ordering="memory__band")
    def memory_band(self, obj: Customer) -> str:
        memory = getattr(obj, "memory", None)
        return memory.get_band_display() if memory else "-"

    def save_model(self, request: HttpRequest, obj: Customer, form: object, change: bool) -> None:
        # Writes go through the services, which hold the rules (and later the audit log).
        if change:
            fields = {name: getattr(obj, name) for name in form.changed_data}  # type: ignore[attr-defined]
            customer_update(customer=Customer.objects.get(pk=obj.pk), actor=request.user, **fields)
        else:
            created = customer_create(
                ref=obj.ref,
                name=obj.name,
                kind=obj.kind,
                email=obj.email,
                company=obj.company,
                segment=obj.segment,
                owner=obj.owner,
                notes=obj.notes,
            )
            obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        # Deleting a customer deletes their history: explicit, and on the record.
        customer_delete(customer=obj, actor=request.user, reason="deleted in the admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset:
            self.delete_model(request, customer)
