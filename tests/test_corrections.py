"""Editing a customer's details and correcting or deleting a logged touchpoint from the
pages: who may, what is kept on the record, and that the memory follows the corrected
history."""

from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.roles import SUPPORT_STAFF
from audit.models import Action, AuditEntry
from customers.models import Customer
from interactions.models import Interaction
from memory.models import CustomerMemory
from memory.services import memory_refresh
from tests.factories import CustomerFactory, SegmentFactory, UserFactory, record

pytestmark = pytest.mark.django_db


def details(customer: Customer, **changes: Any) -> dict[str, Any]:
    """The edit form as the page posts it, with `changes` applied."""
    data = {
        "name": customer.name,
        "email": customer.email,
        "company": customer.company,
        "segment": customer.segment_id or "",
        "owner": customer.owner_id or "",
        "notes": customer.notes,
    }
    data.update(changes)
    return data


def test_the_owner_edits_their_customer_and_the_audit_log_keeps_the_before(client: Client, staff_member: User) -> None:
    customer = CustomerFactory.create(name="Acme", email="old@acme.test", owner=staff_member)
    segment_before = customer.segment_id
    segment = SegmentFactory.create(name="Enterprise")
    client.force_login(staff_member)
    page = client.get(f"/customers/{customer.pk}/")
    assert f'href="/customers/{customer.pk}/edit/"' in page.content.decode()

    response = client.post(
        f"/customers/{customer.pk}/edit/",
        details(customer, name="Acme Ltd", email="hello@acme.test", segment=segment.pk, notes="Hates hold music"),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/"
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.segment, customer.notes) == (
        "Acme Ltd",
        "hello@acme.test",
        segment,
        "Hates hold music",
    )
    entry = AuditEntry.objects.get(object_type="customers.Customer", object_id=str(customer.pk), action=Action.UPDATE)
    assert entry.actor == staff_member
    assert entry.changes == {
        "name": ["Acme", "Acme Ltd"],
        "email": ["old@acme.test", "hello@acme.test"],
        "segment": [segment_before, segment.pk],
        "notes": ["", "Hates hold music"],
    }
    assert "Details saved." in client.get(f"/customers/{customer.pk}/").content.decode()


def test_support_staff_cannot_edit_a_customer_they_do_not_own(client: Client, staff_member: User) -> None:
    someone = UserFactory.create(username="other", roles=[SUPPORT_STAFF])
    customer = CustomerFactory.create(name="Acme", owner=someone)
    client.force_login(staff_member)
    assert "/edit/" not in client.get(f"/customers/{customer.pk}/").content.decode()
    assert client.post(f"/customers/{customer.pk}/edit/", details(customer, name="Hijacked")).status_code == 403
    customer.refresh_from_db()
    assert customer.name == "Acme"
    # Nor can they take the customer over by making themselves the owner of another's customer.
    assert client.post(f"/customers/{customer.pk}/edit/", details(customer, owner=staff_member.pk)).status_code == 403


def test_a_manager_edits_any_customer_and_hands_it_to_another_owner(client: Client, manager: User) -> None:
    leaver = UserFactory.create(username="leaver", roles=[SUPPORT_STAFF])
    successor = UserFactory.create(username="successor", first_name="Sue", last_name="Cessor", roles=[SUPPORT_STAFF])
    customer = CustomerFactory.create(owner=leaver)
    leaver.is_active = False
    leaver.save()
    client.force_login(manager)
    # A former owner who has left still shows, so an unrelated change does not trip on them.
    assert client.post(f"/customers/{customer.pk}/edit/", details(customer, company="Acme Group")).status_code == 302
    customer.refresh_from_db()
    assert (customer.company, customer.owner) == ("Acme Group", leaver)
    page = client.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert ">Sue Cessor<" in page
    assert client.post(f"/customers/{customer.pk}/edit/", details(customer, owner=successor.pk)).status_code == 302
    customer.refresh_from_db()
    assert customer.owner == successor


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("name", "   ", "This field is required."),
        ("email", "not-an-address", "Enter a valid email address."),
        ("owner", "999999", "Select a valid choice."),
        ("name", "x" * 201, "Ensure this value has at most 200 characters"),
    ],
)
def test_bad_details_are_refused_with_the_field_and_nothing_is_stored(
    client: Client, manager: User, field: str, value: str, reason: str
) -> None:
    customer = CustomerFactory.create(name="Acme", email="a@acme.test")
    client.force_login(manager)
    response = client.post(f"/customers/{customer.pk}/edit/", details(customer, **{field: value, "company": "Changed"}))
    assert response.status_code == 400
    body = response.content.decode()
    assert reason in body
    assert f'id="id_{field}_error"' in body
    assert Customer.objects.values_list("name", "email", "company").get(pk=customer.pk) == ("Acme", "a@acme.test", "")
    assert not AuditEntry.objects.filter(object_type="customers.Customer").exists()


def test_the_reference_cannot_be_changed_from_the_page(client: Client, manager: User) -> None:
    customer = CustomerFactory.create(ref="C-1")
    client.force_login(manager)
    client.post(f"/customers/{customer.pk}/edit/", {**details(customer), "ref": "C-2"})
    assert Customer.objects.get(pk=customer.pk).ref == "C-1"


def test_edit_forms_need_the_csrf_token(staff_member: User, manager: User) -> None:
    customer = CustomerFactory.create(owner=staff_member)
    touchpoint = record(customer, staff=staff_member, at=timezone.now())
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post(f"/customers/{customer.pk}/edit/", details(customer, name="X")).status_code == 403
    assert client.post(f"/touchpoints/{touchpoint.pk}/delete/", {"delete-reason": "dup"}).status_code == 403
    assert Interaction.objects.filter(pk=touchpoint.pk).exists()


def correction(interaction: Interaction, **changes: Any) -> dict[str, Any]:
    data = {
        "channel": interaction.channel,
        "stage": interaction.stage_id,
        "valence": interaction.valence,
        "intensity": interaction.intensity,
        "direction": interaction.direction,
        "summary": interaction.summary,
        "reason": "Logged in a hurry",
    }
    if interaction.resolved_on_first_contact:
        data["resolved_on_first_contact"] = "on"
    data.update(changes)
    return data


def score(customer: Customer) -> float:
    return CustomerMemory.objects.values_list("score", flat=True).get(customer=customer)


def test_whoever_logged_it_corrects_it_within_a_day_and_the_memory_follows(
    client: Client, staff_member: User, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory.create()
    mine = record(customer, staff=staff_member, valence=2, summary="Great call", at=timezone.now() - timedelta(hours=2))
    memory_refresh(customer_id=customer.pk)
    before = score(customer)
    client.force_login(staff_member)
    assert f'href="/touchpoints/{mine.pk}/correct/"' in client.get(f"/customers/{customer.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/touchpoints/{mine.pk}/correct/", correction(mine, valence=-2, summary="Shouted at us", reason="Misread")
        )
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/#timeline"
    mine.refresh_from_db()
    assert (mine.valence, mine.summary) == (-2, "Shouted at us")
    assert score(customer) < 50 < before  # recomputed from the corrected history
    entry = AuditEntry.objects.get(object_type="interactions.Interaction", object_id=str(mine.pk))
    assert (entry.action, entry.actor, entry.reason) == (Action.UPDATE, staff_member, "Misread")
    assert entry.changes == {"valence": [2, -2], "summary": ["Great call", "Shouted at us"]}


def test_after_a_day_only_a_manager_corrects_it(client: Client, staff_member: User, manager: User) -> None:
    customer = CustomerFactory.create()
    old = record(customer, staff=staff_member, at=timezone.now() - timedelta(days=3))
    Interaction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    client.force_login(staff_member)
    assert "/correct/" not in client.get(f"/customers/{customer.pk}/").content.decode()
    assert client.get(f"/touchpoints/{old.pk}/correct/").status_code == 403
    assert client.post(f"/touchpoints/{old.pk}/delete/", {"delete-reason": "oops"}).status_code == 403
    client.force_login(manager)
    assert client.post(f"/touchpoints/{old.pk}/correct/", correction(old, summary="Fixed")).status_code == 302
    assert Interaction.objects.get(pk=old.pk).summary == "Fixed"


def test_the_day_to_fix_ones_own_slip_includes_its_last_moment(
    staff_member: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly a day after logging it, the person who logged it may still fix it."""
    from interactions.access import OWN_CORRECTION_WINDOW, can_correct_touchpoint

    mine = record(CustomerFactory.create(), staff=staff_member, at=timezone.now())
    logged = Interaction.objects.get(pk=mine.pk).created_at
    monkeypatch.setattr(timezone, "now", lambda: logged + OWN_CORRECTION_WINDOW)
    assert can_correct_touchpoint(staff_member, mine)
    monkeypatch.setattr(timezone, "now", lambda: logged + OWN_CORRECTION_WINDOW + timedelta(microseconds=1))
    assert not can_correct_touchpoint(staff_member, mine)


def test_callers_that_are_not_people_correct_nothing() -> None:
    """Anything other than a signed-in person (no user, an API key's caller) is refused, even for a
    touchpoint no person logged: 'the person who logged it' must be a person."""
    from django.contrib.auth.models import AnonymousUser

    from integrations.auth import SystemUser
    from integrations.models import APIKey
    from interactions.access import can_correct_touchpoint

    api_pushed = record(CustomerFactory.create(), at=timezone.now())
    assert api_pushed.staff_id is None
    key, _ = APIKey.objects.create_key(name="crm", scope="full")
    for caller in (AnonymousUser(), object(), None, SystemUser(cast(APIKey, key))):
        assert not can_correct_touchpoint(caller, api_pushed)


def test_support_staff_cannot_correct_what_a_colleague_logged(client: Client, staff_member: User) -> None:
    colleague = UserFactory.create(username="colleague", roles=[SUPPORT_STAFF])
    customer = CustomerFactory.create()
    theirs = record(customer, staff=colleague, at=timezone.now())
    api_pushed = record(customer, at=timezone.now())
    client.force_login(staff_member)
    for touchpoint in (theirs, api_pushed):
        response = client.post(f"/touchpoints/{touchpoint.pk}/correct/", correction(touchpoint, valence=-2))
        assert response.status_code == 403
        assert Interaction.objects.get(pk=touchpoint.pk).valence == touchpoint.valence


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"reason": ""}, "reason", "This field is required."),
        ({"valence": "7"}, "valence", "Select a valid choice."),
        ({"intensity": "9"}, "intensity", "Ensure this value is less than or equal to 5."),
        ({"channel": "fax"}, "channel", "Select a valid choice."),
    ],
)
def test_a_bad_correction_is_refused_and_nothing_changes(
    client: Client, manager: User, changes: dict[str, str], field: str, reason: str
) -> None:
    customer = CustomerFactory.create()
    touchpoint = record(customer, valence=1, summary="As it was", at=timezone.now())
    client.force_login(manager)
    response = client.post(f"/touchpoints/{touchpoint.pk}/correct/", correction(touchpoint, summary="New", **changes))
    assert response.status_code == 400
    body = response.content.decode()
    assert reason in body
    assert f'id="id_{field}_error"' in body
    assert Interaction.objects.values_list("valence", "summary").get(pk=touchpoint.pk) == (1, "As it was")
    assert not AuditEntry.objects.filter(object_type="interactions.Interaction").exists()


def test_deleting_needs_a_reason_and_the_memory_is_recomputed_without_it(
    client: Client, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory.create()
    record(customer, valence=1, at=timezone.now() - timedelta(days=2))
    mistake = record(customer, channel="complaint", valence=-2, at=timezone.now() - timedelta(days=1))
    memory_refresh(customer_id=customer.pk)
    assert score(customer) < 50
    client.force_login(manager)

    refused = client.post(f"/touchpoints/{mistake.pk}/delete/", {"delete-reason": "  "})
    assert refused.status_code == 400
    assert 'id="id_delete-reason_error"' in refused.content.decode()
    assert Interaction.objects.filter(pk=mistake.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/touchpoints/{mistake.pk}/delete/", {"delete-reason": "Wrong customer"})
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.pk}/#timeline"
    assert not Interaction.objects.filter(pk=mistake.pk).exists()
    assert score(customer) > 50
    entry = AuditEntry.objects.get(object_type="interactions.Interaction", object_id=str(mistake.pk))
    assert (entry.action, entry.actor, entry.reason) == (Action.DELETE, manager, "Wrong customer")
    assert entry.changes["channel"] == "complaint"
    assert entry.changes["valence"] == -2


def test_a_get_on_the_delete_address_deletes_nothing(client: Client, manager: User) -> None:
    touchpoint = record(CustomerFactory.create(), at=timezone.now())
    client.force_login(manager)
    assert client.get(f"/touchpoints/{touchpoint.pk}/delete/?delete-reason=x").status_code == 302
    assert Interaction.objects.filter(pk=touchpoint.pk).exists()
