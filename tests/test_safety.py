"""Audit log, explicit deletion, login lockout, health endpoint, security headers."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from audit.models import AuditEntry
from customers.models import Customer
from customers.services import customer_delete, customer_update
from interactions.models import ChannelDefault, Interaction
from interactions.services import interaction_change, interaction_delete
from tests.factories import CustomerFactory, UserFactory, record

pytestmark = pytest.mark.django_db


def test_editing_a_touchpoint_keeps_what_it_was(manager: Any) -> None:
    interaction = record(CustomerFactory.create(), valence=1, summary="Fine call")
    interaction_change(interaction=interaction, actor=manager, valence=-1, summary="Actually it went badly")
    entry = AuditEntry.objects.get(object_type="interactions.Interaction")
    assert entry.actor == manager
    assert entry.action == "update"
    assert entry.changes == {"valence": [1, -1], "summary": ["Fine call", "Actually it went badly"]}


def test_deleting_a_touchpoint_keeps_a_copy_in_the_log(manager: Any) -> None:
    interaction = record(CustomerFactory.create(), summary="Wrong customer")
    interaction_delete(interaction=interaction, actor=manager, reason="logged on the wrong customer")
    entry = AuditEntry.objects.get(action="delete")
    assert entry.changes["summary"] == "Wrong customer"
    assert entry.reason == "logged on the wrong customer"


def test_deleting_a_customer_needs_a_reason_and_is_logged(administrator: Any) -> None:
    customer = CustomerFactory.create(ref="GONE-1")
    record(customer)
    with pytest.raises(ValidationError):
        customer_delete(customer=customer, actor=administrator, reason=" ")
    assert Customer.objects.filter(ref="GONE-1").exists()
    customer_delete(customer=customer, actor=administrator, reason="customer asked to be forgotten")
    entry = AuditEntry.objects.get(action="delete")
    assert entry.changes == {"ref": "GONE-1", "name": customer.name, "interactions": 1, "journeys": 1}
    assert not Customer.objects.filter(ref="GONE-1").exists()
    assert not Interaction.objects.exists()


def test_customer_changes_are_logged_with_before_and_after(manager: Any) -> None:
    customer = CustomerFactory.create(email="old@example.com")
    customer_update(customer=customer, actor=manager, email="new@example.com")
    assert AuditEntry.objects.get().changes == {"email": ["old@example.com", "new@example.com"]}


def test_admin_changes_to_settings_and_deletions_are_logged(client: Client, administrator: Any) -> None:
    client.force_login(administrator)
    default = ChannelDefault.objects.get(channel="newsletter")
    response = client.post(
        f"/admin/interactions/channeldefault/{default.pk}/change/",
        {"channel": "newsletter", "stage": default.stage_id, "intensity": 2},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_type="interactions.ChannelDefault")
    assert entry.changes == {"intensity": [1, 2]}
    assert entry.actor == administrator
    customer = CustomerFactory.create()
    client.post(f"/admin/customers/customer/{customer.pk}/delete/", {"post": "yes"})
    assert AuditEntry.objects.filter(action="delete", object_type="customers.Customer").exists()
    assert client.get("/admin/audit/auditentry/").status_code == 200


def test_the_audit_log_cannot_be_edited_in_the_admin(client: Client, administrator: Any) -> None:
    entry = AuditEntry.objects.create(actor_label="x", action="update", object_type="t", object_id="1", object_repr="t")
    client.force_login(administrator)
    assert client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_repeated_wrong_passwords_lock_the_account_out(client: Client) -> None:
    UserFactory.create(username="victim")
    codes = [client.post("/login/", {"username": "victim", "password": "guess"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]  # the fifth failure locks the pair out
    locked = client.post("/login/", {"username": "victim", "password": "pw-for-tests-only"})
    assert locked.status_code == 429  # even the right password, until the cool-off ends
    assert locked["Retry-After"] == "900"  # security audit #16: when to try again (15 minutes)
    other = Client()
    assert other.post("/login/", {"username": "someone-else", "password": "guess"}).status_code == 200


def test_health_reports_database_cache_redis_and_a_missing_worker(client: Client, settings: Any) -> None:
    settings.HEALTH_TOKEN = "monitor-secret"
    response = client.get("/health/", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION="Bearer monitor-secret")
    status = {name.split("(")[0]: value for name, value in response.json().items()}
    assert status["Database"] == status["Cache"] == status["Redis"] == "OK"
    # No worker runs during this test: the endpoint says so and answers 500.
    assert response.status_code == 500
    assert status["Ping"] == "Unavailable: Celery workers unavailable"


def test_health_tells_anonymous_callers_only_up_or_down(client: Client, settings: Any) -> None:
    """Security audit #16: no service names, versions or errors for anyone who asks."""
    settings.HEALTH_TOKEN = "monitor-secret"
    for authorization in ("", "Bearer wrong"):
        response = client.get("/health/", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 503  # no worker runs during this test
        assert response.content == b"unavailable\n"


def test_security_headers_are_set(client: Client) -> None:
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    # Security audit #16: a strict CSP (no inline script, nothing from elsewhere) and no
    # browser features.
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def test_the_benchmark_views_are_not_in_the_product_urls(client: Client) -> None:
    assert client.get("/bench/json/").status_code == 404
    assert client.post("/bench/insert/", "x", content_type="text/plain").status_code == 404
