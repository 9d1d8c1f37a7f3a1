from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


def test_home_requires_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("persona", ["staff_member", "manager", "administrator"])
def test_home_shows_customers_at_risk_to_every_role(
    client: Client, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    unhappy = CustomerFactory.create(name="Grumpy <Co>")
    record(unhappy, channel="complaint", valence=-2, at=timezone.now() - timedelta(hours=2))
    memory_refresh(customer_id=unhappy.pk)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Grumpy &lt;Co&gt;" in body  # escaped
    assert "at risk" in body


def test_login_page_renders_with_csrf(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200 and b"csrfmiddlewaretoken" in response.content


def test_admin_changelists_render_for_an_administrator(client: Client, administrator: User) -> None:
    customer = CustomerFactory.create()
    record(customer)
    memory_refresh(customer_id=customer.pk)
    client.force_login(administrator)
    for url in [
        "/admin/customers/customer/",
        "/admin/customers/segment/",
        "/admin/interactions/interaction/",
        "/admin/interactions/channeldefault/",
        "/admin/journeys/journey/",
        "/admin/journeys/journeystage/",
        "/admin/memory/customermemory/",
        "/admin/memory/scoresnapshot/",
        f"/admin/customers/customer/{customer.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get(f"/admin/customers/customer/?q={customer.ref}").status_code == 200


def test_admin_is_closed_to_support_staff(client: Client, staff_member: User) -> None:
    client.force_login(staff_member)
    assert client.get("/admin/").status_code == 302
