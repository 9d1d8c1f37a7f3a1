from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.models import Action
from audit.services import audit_record
from customers.models import Customer, CustomerKind, Segment

UPDATABLE_FIELDS = frozenset({"name", "kind", "email", "company", "segment", "owner", "notes"})


@transaction.atomic
def customer_create(
    *,
    ref: str,
    name: str,
    kind: str = CustomerKind.BUSINESS,
    email: str = "",
    company: str = "",
    segment: Segment | None = None,
    owner: User | None = None,
    notes: str = "",
) -> Customer:
    customer = Customer(
        ref=ref.strip(),
        name=name.strip(),
        kind=kind,
        email=email.strip(),
        company=company.strip(),
        segment=segment,
        owner=owner,
        notes=notes,
    )
    customer.full_clean()
    try:
        # A savepoint, so a losing racer on the same ref leaves the outer transaction usable.
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        raise ValidationError({"ref": [f"A customer with ref {customer.ref!r} already exists."]}) from exc
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: Any = None, **changes: Any) -> Customer:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    stored = Customer.objects.get(pk=customer.pk)
    before = {name: getattr(stored, name) for name in changes}
    for name, value in changes.items():
        setattr(customer, name, value.strip() if isinstance(value, str) and name != "notes" else value)
    customer.full_clean(exclude=["ref"])
    customer.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        obj=customer,
        changes={name: (before[name], getattr(customer, name)) for name in changes},
    )
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, actor: Any, reason: str) -> None:
    """Delete a customer and their whole history, on purpose and on the record."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why this customer and their history are deleted."]})
    audit_record(
        actor=actor,
        action=Action.DELETE,
        obj=customer,
        changes={
            "ref": customer.ref,
            "name": customer.name,
            "interactions": customer.interactions.count(),
            "journeys": customer.journeys.count(),
        },
        reason=reason,
    )
    customer.delete()


def customer_get_or_create(*, ref: str, name: str = "", **extra: Any) -> tuple[Customer, bool]:
    """The customer other systems call `ref`; created only when a name is given."""
    existing = Customer.objects.filter(ref=ref.strip()).first()
    if existing is not None:
        return existing, False
    if not name.strip():
        raise ValidationError({"customer_name": [f"No customer has ref {ref!r}; give customer_name to create one."]})
    try:
        return customer_create(ref=ref, name=name, **extra), True
    except ValidationError as exc:
        # Two first touchpoints for a new customer can race; the loser uses the winner's row.
        existing = Customer.objects.filter(ref=ref.strip()).first()
        if existing is None:
            raise exc from None
        return existing, False


def segment_get_or_create(*, name: str, description: str = "") -> Segment:
    segment, _ = Segment.objects.get_or_create(name=name.strip(), defaults={"description": description})
    return segment


def customers_set_churned(churned_at: dict[int, datetime | None]) -> None:
    """Mark customers churned (since the given time) or not (None): kept by the outcomes
    service so every list, filter and the API read one column."""
    for value in set(churned_at.values()):
        ids = [cid for cid, at in churned_at.items() if at == value]
        Customer.objects.filter(pk__in=ids).exclude(churned_at=value).update(churned_at=value)
