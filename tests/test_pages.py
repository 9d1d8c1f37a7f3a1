from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


def test_home_requires_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


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
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


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


def test_customer_page_explains_the_memory_in_words(client: Client, staff_member: User) -> None:
    customer = CustomerFactory.create(name="Acme & Sons")
    complaint = record(customer, channel="complaint", valence=-1, summary="<script>alert(1)</script>")
    record(customer, days=2, valence=2, resolves=complaint)
    record(customer, days=5, channel="email", valence=1)
    memory_refresh(customer_id=customer.pk)
    client.force_login(staff_member)
    response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    # The drivers are named with their signed points (leave-one-out, read today).
    remembered = body.split("Remembered mostly for: ")[1].split("</p>")[0]
    assert "complaint on 3 Mar 2025 (bad), softened by the recovery on 5 Mar: -" in remembered
    assert "call on 5 Mar 2025 (very good), recovering the complaint of 3 Mar: +" in remembered
    assert "Latest touchpoint: e-mail on 8 Mar 2025 (good)." in body
    assert 'class="drivers"' in body
    assert "Fading: nothing for" in body
    assert "&lt;script&gt;" in body
    assert "<script>alert" not in body
    assert "Acme &amp; Sons" in body


def test_severe_complaint_stays_the_peak_and_is_shown_softened(client: Client, staff_member: User) -> None:
    customer = CustomerFactory.create()
    complaint = record(customer, channel="complaint", valence=-2, intensity=5)
    record(customer, days=1, valence=1, resolves=complaint)
    memory_refresh(customer_id=customer.pk)
    client.force_login(staff_member)
    body = client.get(f"/customers/{customer.pk}/").content.decode()
    remembered = body.split("Remembered mostly for: ")[1].split("</p>")[0]
    assert "complaint on 3 Mar 2025 (very bad), softened by the recovery on 4 Mar: -" in remembered


def test_customer_page_lists_complaints_waiting_for_recovery(client: Client, staff_member: User) -> None:
    customer = CustomerFactory.create()
    record(customer, channel="complaint", valence=-2, summary="Invoice charged twice")
    fixed = record(customer, channel="complaint", valence=-1, summary="Late delivery", days=1)
    record(customer, valence=2, resolves=fixed, days=2)
    client.force_login(staff_member)
    body = client.get(f"/customers/{customer.pk}/").content.decode()
    waiting = body.split("Waiting for recovery</h2>")[1].split("</section>")[0]
    assert "Invoice charged twice" in waiting
    assert "Late delivery" not in waiting


def test_customer_page_is_refused_to_users_without_a_role(client: Client, outsider: User) -> None:
    customer = CustomerFactory.create()
    client.force_login(outsider)
    assert client.get(f"/customers/{customer.pk}/").status_code == 403


def test_customer_page_requires_login(client: Client) -> None:
    customer = CustomerFactory.create()
    assert client.get(f"/customers/{customer.pk}/").status_code == 302


def test_customer_page_query_count_does_not_grow_with_history(
    client: Client, staff_member: User, django_assert_max_num_queries: object
) -> None:
    customer = CustomerFactory.create()
    for day in range(60):
        record(customer, days=day, valence=(day % 5) - 2, channel="complaint" if day % 7 == 0 else "call")
    memory_refresh(customer_id=customer.pk)
    client.force_login(staff_member)
    # Constant in the history: the explanation reads its snapshot day, the drivers (cached),
    # their recoveries and the latest touchpoint in one query each; the timeline pages
    # (a count, the page's keys, its rows: config/paging.py); the outcomes, 20 at most; the
    # scoring version in force, once; the header's count of open tasks (My work).
    with django_assert_max_num_queries(24):  # type: ignore[operator]
        assert client.get(f"/customers/{customer.pk}/").status_code == 200


def test_timeline_pages_through_a_long_history(client: Client, staff_member: User) -> None:
    """Issue 'everyday use': every touchpoint reachable, 50 a page, filters kept."""
    customer = CustomerFactory.create()
    for day in range(120):
        record(customer, days=day, channel="email" if day % 2 else "call", summary=f"touch {day:03d}")
    memory_refresh(customer_id=customer.pk)
    client.force_login(staff_member)
    first = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "touch 119" in first
    assert "touch 069" not in first.split('id="timeline"')[1]
    assert "Page 1 of 3 (120 touchpoints)" in first
    last = client.get(f"/customers/{customer.pk}/?page=3").content.decode().split('id="timeline"')[1]
    assert "touch 000" in last
    assert "touch 119" not in last
    emails = client.get(f"/customers/{customer.pk}/?channel=email&page=2").content.decode()
    assert "Page 2 of 2 (60 touchpoints)" in emails
    assert "channel=email&amp;page=1#timeline" in emails


def test_customer_page_and_memory_api_work_while_the_cache_is_down(
    client: Client, staff_member: User, settings: Any
) -> None:
    """The drivers are cached in Redis; with Redis down the page explains them uncached
    (the broker-outage guarantee: pages keep working), never a 500."""
    customer = CustomerFactory.create()
    record(customer, channel="complaint", valence=-2, summary="Outage")
    memory_refresh(customer_id=customer.pk)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    client.force_login(staff_member)
    page = client.get(f"/customers/{customer.pk}/")
    assert page.status_code == 200
    assert "Remembered mostly for: complaint" in page.content.decode()
    body = client.get(f"/api/v1/customers/{customer.pk}/memory/").json()
    assert body["drivers"][0]["channel"] == "complaint"


def test_the_charts_say_in_words_what_they_show(client: Client, manager: User) -> None:
    """The memory lane and the dashboard's trend and heatmap each carry a sentence, linked
    to the chart with aria-describedby, for readers who cannot see the picture."""
    now = timezone.now()
    customer = CustomerFactory.create(name="Wordy Ltd")
    for n in range(6):
        record(customer, at=now - timedelta(days=40 - n), channel="complaint", valence=-2, summary=f"Broken {n}")
    record(customer, at=now - timedelta(days=3), channel="meeting", valence=2, intensity=5)
    memory_refresh(customer_id=customer.pk)
    client.force_login(manager)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'aria-describedby="lane-words"' in page
    words = page.split('id="lane-words">')[1].split("</span>")[0]
    assert words.startswith("7 touchpoints in the last year: 1 good, 6 bad, 0 neutral.")
    assert "The memory score was " in words  # one reading so far (today's)

    dashboard = client.get("/dashboard/?period=90").content.decode()
    heat = dashboard.split('<p id="heat-words">')[1].split("</p>")[0]
    assert heat.startswith("Worst memories form at complaint in ")
    assert "(-" in heat
    assert "over 6 touchpoints" in heat
    assert "Only cells with 5 or more touchpoints are named here." in heat


def test_a_series_in_words_names_its_start_end_low_and_high() -> None:
    from datetime import date

    from config.charts import series_in_words

    points = [(date(2026, 3, 1), 61.0), (date(2026, 3, 5), 40.2), (date(2026, 3, 9), 70.0), (date(2026, 3, 12), 57.0)]
    assert series_in_words(points, "average memory score") == (
        "The average memory score fell from 61 on 1 Mar 2026 to 57 on 12 Mar 2026; "
        "lowest 40 on 5 Mar, highest 70 on 9 Mar."
    )
    assert series_in_words([], "memory score") == "No memory score recorded in this period."
