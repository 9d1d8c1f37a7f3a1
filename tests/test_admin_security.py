"""The admin's people, roles and webhooks: no self-escalation, every change audited,
secrets shown once (security audit #3 and #11)."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db.models import RestrictedError
from django.test import Client

from accounts.roles import ADMINISTRATORS, MANAGERS, SUPPORT_STAFF
from accounts.teams import manager_of
from audit.models import AuditEntry
from customers.services import customer_delete
from integrations.models import WebhookSubscription
from interactions.models import Interaction
from journeys.models import Journey
from tests.factories import CustomerFactory, UserFactory, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def role_admin() -> User:
    """A member of Administrators who is not a superuser (the audit's attacker)."""
    return UserFactory.create(username="ria", roles=[ADMINISTRATORS], is_staff=True)


def _change_form_data(client: Client, user: User, **overrides: Any) -> dict[str, Any]:
    page = client.get(f"/admin/auth/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    for name in ("date_joined", "last_login"):
        when = data.pop(name, None)
        if when:
            data[f"{name}_0"], data[f"{name}_1"] = when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S")
    data.update(_inline_management(page))
    data.update(overrides)
    return data


def _inline_management(page: Any) -> dict[str, Any]:
    """The inlines' (the reporting line's) management forms, as a browser posts them."""
    return {
        f"{inline.formset.prefix}-{name}": inline.formset.management_form[name].value()
        for inline in page.context["inline_admin_formsets"]
        for name in inline.formset.management_form.fields
    }


def test_a_role_administrator_cannot_make_themselves_superuser(client: Client, role_admin: User) -> None:
    client.force_login(role_admin)
    page = client.get(f"/admin/auth/user/{role_admin.pk}/change/")
    assert page.status_code == 200
    assert b'name="is_superuser"' not in page.content
    assert b'name="user_permissions"' not in page.content
    data = _change_form_data(client, role_admin, is_superuser="on", first_name="Ria")
    data["user_permissions"] = [str(p.pk) for p in Permission.objects.all()[:3]]
    response = client.post(f"/admin/auth/user/{role_admin.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    role_admin.refresh_from_db()
    assert role_admin.first_name == "Ria"  # the form was saved...
    assert not role_admin.is_superuser
    assert not role_admin.user_permissions.exists()


def test_a_role_administrator_cannot_change_or_delete_a_superuser(
    client: Client, role_admin: User, administrator: User
) -> None:
    client.force_login(role_admin)
    page = client.get(f"/admin/auth/user/{administrator.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(f"/admin/auth/user/{administrator.pk}/change/", {"username": "taken"}).status_code == 403
    assert client.post(f"/admin/auth/user/{administrator.pk}/delete/", {"post": "yes"}).status_code == 403
    password = {"password1": "a-new-Secret-123", "password2": "a-new-Secret-123"}
    assert client.post(f"/admin/auth/user/{administrator.pk}/password/", password).status_code == 403
    administrator.refresh_from_db()
    assert administrator.username == "ada"
    assert administrator.check_password("pw-for-tests-only")


def test_a_role_administrator_cannot_widen_what_a_role_may_do(client: Client, role_admin: User) -> None:
    client.force_login(role_admin)
    group = Group.objects.get(name=ADMINISTRATORS)
    page = client.get(f"/admin/auth/group/{group.pk}/change/")
    assert page.status_code == 200
    assert b'name="permissions"' not in page.content


def test_role_changes_are_audited(client: Client, administrator: User) -> None:
    target = UserFactory.create(username="newbie", roles=[SUPPORT_STAFF])
    client.force_login(administrator)
    staff_group = Group.objects.get(name=SUPPORT_STAFF)
    admins = Group.objects.get(name=ADMINISTRATORS)
    data = _change_form_data(client, target, groups=[str(staff_group.pk), str(admins.pk)])
    assert client.post(f"/admin/auth/user/{target.pk}/change/", data).status_code == 302
    entry = AuditEntry.objects.filter(object_type="auth.User", object_id=str(target.pk), reason="roles changed").get()
    assert entry.actor == administrator
    assert entry.changes["groups"] == [[SUPPORT_STAFF], sorted([ADMINISTRATORS, SUPPORT_STAFF])]


def test_an_administrator_sets_a_reporting_line_in_the_user_admin(client: Client, administrator: User) -> None:
    target = UserFactory.create(username="newbie", roles=[SUPPORT_STAFF])
    boss = UserFactory.create(username="boss", roles=[MANAGERS])
    client.force_login(administrator)
    data = _change_form_data(client, target, **{"staff_profile-0-manager": str(boss.pk)})
    assert client.post(f"/admin/auth/user/{target.pk}/change/", data).status_code == 302
    assert manager_of(target.pk) == boss


def test_webhook_secret_is_shown_once_and_never_logged(client: Client, administrator: User) -> None:
    client.force_login(administrator)
    response = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {
            "name": "CRM",
            "url": "https://93.184.216.34/hook",
            "events": '["customer.band_changed"]',
            "complaint_wait_hours": "48",
            "active": "on",
        },
        follow=True,
    )
    subscription = WebhookSubscription.objects.get(name="CRM")
    assert subscription.secret.encode() in response.content  # shown once, right after saving
    page = client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/")
    assert subscription.secret.encode() not in page.content
    old = subscription.secret
    client.post(
        f"/admin/integrations/webhooksubscription/{subscription.pk}/change/",
        {
            "name": "CRM",
            "url": "https://93.184.216.34/hook",
            "events": '["customer.band_changed"]',
            "complaint_wait_hours": "48",
            "active": "on",
            "rotate_secret": "on",
        },
    )
    subscription.refresh_from_db()
    assert subscription.secret != old
    logged = str(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert old not in logged
    assert subscription.secret not in logged
    assert "[redacted]" in logged


def test_a_journey_cannot_be_deleted_from_under_its_touchpoints(client: Client, administrator: User) -> None:
    """Security audit #8: deleting a journey in the admin cascade-deleted its touchpoints,
    unaudited, and the dashboard kept counting them."""
    customer = CustomerFactory.create()
    first = record(customer, channel="complaint", valence=-2)
    record(customer, valence=1)
    client.force_login(administrator)
    journey = first.journey
    assert client.post(f"/admin/journeys/journey/{journey.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Interaction.objects.filter(journey=journey).count() == 2
    with pytest.raises(RestrictedError):  # nor by any other path than through the customer
        journey.delete()
    customer_delete(customer=customer, actor=administrator, reason="test")
    assert not Interaction.objects.exists()
    assert not Journey.objects.exists()


def test_a_person_who_logged_touchpoints_is_deactivated_not_deleted(client: Client, administrator: User) -> None:
    sam = UserFactory.create(username="sam2", roles=[SUPPORT_STAFF])
    record(CustomerFactory.create(), staff=sam)
    client.force_login(administrator)
    response = client.post(f"/admin/auth/user/{sam.pk}/delete/", {"post": "yes"}, follow=True)
    assert User.objects.filter(pk=sam.pk).exists()
    assert b"Untick" in response.content
    idle = UserFactory.create(username="idle")
    client.post(f"/admin/auth/user/{idle.pk}/delete/", {"post": "yes"})
    assert not User.objects.filter(pk=idle.pk).exists()
    assert AuditEntry.objects.filter(object_type="auth.User", object_id=str(idle.pk), action="delete").exists()
