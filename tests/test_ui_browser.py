"""The issue's scenarios in a real browser: Playwright driving Debian's Chromium."""

import csv
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import MANAGERS, SUPPORT_STAFF
from customers.models import Customer
from interactions.models import Interaction
from memory.models import CustomerMemory
from memory.services import memory_refresh
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.factories import CustomerFactory, SegmentFactory, UserFactory, record

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def _score(customer: Customer) -> float:
    return CustomerMemory.objects.get(customer=customer).score


def test_staff_logs_a_complaint_then_its_recovery_and_sees_the_score_change(page: Page, live_server: object) -> None:
    staff = UserFactory.create(username="sam", first_name="Sam", roles=[SUPPORT_STAFF])
    customer = CustomerFactory.create(name="Northwind Traders", ref="NORTHWIND")
    record(customer, at=timezone.now() - timedelta(days=20), valence=1, summary="Kick-off call")
    memory_refresh(customer_id=customer.pk)
    before = _score(customer)
    base = str(live_server)
    log_in(page, base, staff)

    page.goto(f"{base}/log/")
    page.get_by_label("Customer", exact=True).fill("NORTHWIND")
    page.get_by_label("Channel", exact=True).select_option("complaint")
    expect(page.get_by_label("Stage", exact=True)).to_have_value("fulfilment")  # follows the channel
    page.get_by_label("Very bad").check()
    page.get_by_label("What happened").fill("Invoice charged twice")
    page.get_by_label("What happened").press("Enter")  # Enter saves
    expect(page.get_by_role("status")).to_contain_text("Logged: complaint (very bad) for Northwind Traders")
    expect(page.locator(".memory-badge")).to_contain_text("Memory now", timeout=15_000)
    after_complaint = _score(customer)
    assert after_complaint < before - 20
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "log-complaint.png", full_page=True)

    page.goto(f"{base}/customers/{customer.pk}/")
    complaint = Interaction.objects.get(channel="complaint")
    page.get_by_label("Channel", exact=True).select_option("call")
    page.get_by_label("Very good").check()
    page.get_by_label("Resolves complaint").select_option(str(complaint.pk))
    page.get_by_label("What happened").fill("Refund issued, apology from the owner")
    page.get_by_role("button", name="Save touchpoint").click()
    expect(page.locator(".memory-badge")).to_contain_text("Memory now", timeout=15_000)
    assert Interaction.objects.get(channel="call", valence=2).resolves_id == complaint.pk
    assert _score(customer) > after_complaint + 20
    page.reload()
    expect(page.get_by_text("softened by the recovery")).to_be_visible()
    # The drivers: the complaint and its recovery, each with its signed points and id.
    drivers = page.locator("#remembered table.drivers tbody tr")
    expect(drivers.first).to_contain_text("Invoice charged twice")
    expect(drivers.first).to_contain_text(f"#{complaint.pk}")
    expect(drivers.first.locator("td.num span.neg")).to_have_text(re.compile(r"^-\d+\.\d$"))
    recovery_row = drivers.filter(has_text="Refund issued, apology from the owner")
    expect(recovery_row.locator("td.num span.pos")).to_have_text(re.compile(r"^\+\d+\.\d$"))
    expect(page.get_by_text("lived through (experience average)")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "customer-after-recovery.png", full_page=True)


def test_double_submit_logs_one_touchpoint(page: Page, live_server: object) -> None:
    staff = UserFactory.create(username="sam", roles=[SUPPORT_STAFF])
    CustomerFactory.create(ref="ACME")
    log_in(page, str(live_server), staff)
    page.goto(f"{live_server}/log/")
    page.get_by_label("Customer", exact=True).fill("ACME")
    page.get_by_label("Good", exact=True).check()
    form = page.locator("form.log-form")
    # Submitting the same rendered form twice (a double click, a retry) sends one key.
    data = form.evaluate("f => Object.fromEntries(new FormData(f))")
    for _ in range(2):
        page.request.post(f"{live_server}/log/", form=data, headers={"X-CSRFToken": data["csrfmiddlewaretoken"]})
    assert Interaction.objects.count() == 1


def test_manager_filters_follows_the_queue_and_exports(page: Page, live_server: object) -> None:
    manager = UserFactory.create(username="maya", first_name="Maya", roles=[MANAGERS])
    owner = UserFactory.create(username="olga", first_name="Olga", last_name="Owner")
    enterprise, small = SegmentFactory.create(name="Enterprise"), SegmentFactory.create(name="Small business")
    now = timezone.now()
    big = CustomerFactory.create(name="Big Bank", segment=enterprise, owner=owner)
    shop = CustomerFactory.create(name="Corner Shop", segment=small, owner=owner)
    record(big, channel="complaint", valence=-2, at=now - timedelta(days=3), summary="Outage at month-end", staff=owner)
    record(shop, channel="complaint", valence=-1, at=now - timedelta(days=5), summary="Late delivery", staff=owner)
    for c in (big, shop):
        memory_refresh(customer_id=c.pk)
    base = str(live_server)
    log_in(page, base, manager)
    page.goto(f"{base}/dashboard/")
    queue = page.locator("section", has=page.get_by_role("heading", name="Recovery queue"))
    expect(queue).to_contain_text("Corner Shop")
    page.get_by_label("Segment").select_option(label="Enterprise")
    page.get_by_role("button", name="Apply").click()
    expect(queue).to_contain_text("Big Bank")
    expect(queue).not_to_contain_text("Corner Shop")
    page.screenshot(path=ARTIFACTS / "dashboard-enterprise.png", full_page=True)

    with page.expect_download() as download:
        queue.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.reader(exported))
    assert rows[0][:3] == ["occurred_at", "customer_ref", "customer"]
    assert [r[2] for r in rows[1:]] == ["Big Bank"]

    queue.get_by_role("link", name="Big Bank").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Big Bank")
    expect(page.locator("#timeline").get_by_role("cell", name="Outage at month-end")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "customer-from-queue.png", full_page=True)


def test_support_staff_are_refused_manager_pages(page: Page, live_server: object) -> None:
    staff = UserFactory.create(username="sam", roles=[SUPPORT_STAFF])
    log_in(page, str(live_server), staff)
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    response = page.goto(f"{live_server}/dashboard/")
    assert response is not None
    assert response.status == 403
    response = page.goto(f"{live_server}/dashboard/?export=at_risk")
    assert response is not None
    assert response.status == 403


def test_pages_work_at_tablet_width(page: Page, live_server: object) -> None:
    manager = UserFactory.create(username="maya", roles=[MANAGERS])
    customer = CustomerFactory.create(name="Tablet Co")
    record(customer, at=timezone.now() - timedelta(days=2), channel="complaint", valence=-2)
    memory_refresh(customer_id=customer.pk)
    page.set_viewport_size({"width": 800, "height": 1100})
    log_in(page, str(live_server), manager)
    page.goto(f"{live_server}/customers/{customer.pk}/")
    expect(page.get_by_role("img", name="Memory lane")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=ARTIFACTS / "customer-tablet.png", full_page=True)
