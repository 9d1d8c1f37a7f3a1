"""Pages in a real browser: Playwright driving Debian's Chromium against a live server."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from memory.services import memory_refresh
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.factories import CustomerFactory, record

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_staff_member_logs_in_and_reads_a_customer_memory(page: Page, live_server: object, staff_member: User) -> None:
    base_url = str(live_server)
    customer = CustomerFactory.create(name="Northwind Traders")
    now = timezone.now()
    complaint = record(
        customer,
        at=now - timedelta(days=6),
        channel="complaint",
        valence=-2,
        intensity=5,
        summary="Outage at month-end close",
    )
    record(
        customer,
        at=now - timedelta(days=5),
        valence=1,
        resolves=complaint,
        summary="Credit applied, root cause explained",
    )
    record(customer, at=now - timedelta(days=2), channel="email", valence=1, summary="Sent the incident report")
    memory_refresh(customer_id=customer.pk)

    log_in(page, base_url, staff_member)
    expect(page.get_by_role("heading", name="What our customers will remember")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True)

    page.get_by_role("link", name="Northwind Traders").click()
    expect(page.get_by_role("heading", name="What they will remember")).to_be_visible()
    expect(page.get_by_text("Remembered mostly for: complaint on")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "customer.png", full_page=True)


def test_wrong_password_shows_an_error(page: Page, live_server: object, staff_member: User) -> None:
    page.goto(f"{live_server}/login/")
    page.get_by_label("Username").fill(staff_member.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")


def test_no_page_breaks_its_content_security_policy(page: Page, live_server: object, administrator: User) -> None:
    """Security audit #16: the strict CSP holds in a real browser: no page (with htmx,
    the charts, the logging form, the API docs) trips it."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}") if "Content Security" in message.text else None
        ),
    )
    customer = CustomerFactory.create(name="Policy Co")
    record(customer, channel="complaint", valence=-2)
    memory_refresh(customer_id=customer.pk)
    log_in(page, str(live_server), administrator)
    pages = [
        "/",
        "/customers/?q=pol",
        "/log/",
        f"/customers/{customer.pk}/",
        "/dashboard/",
        "/imports/",
        "/outcomes/import/",
        "/api/v1/docs/",
    ]
    pages += ["/admin/", f"/admin/auth/user/{administrator.pk}/change/", "/admin/interactions/interaction/"]
    for path in pages:
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        if path.startswith("/customers/?"):
            expect(page.get_by_role("link", name="Policy Co")).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "customer-directory.png", full_page=True)
    page.goto(f"{live_server}/log/")
    page.get_by_label("Customer", exact=True).fill("Pol")  # htmx autocomplete under the policy
    expect(page.locator("option", has_text="Policy Co")).to_be_attached()  # a datalist entry, added by htmx
    assert violations == []
