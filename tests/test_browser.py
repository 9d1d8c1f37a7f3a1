"""Pages in a real browser: Playwright driving Debian's Chromium against a live server."""

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (scripts/test installs it)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make around it are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def _log_in(page: Page, base_url: str, user: User) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()


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

    _log_in(page, base_url, staff_member)
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
