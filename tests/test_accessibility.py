"""Accessibility in a real browser: axe-core (bundled by axe-playwright-python) on every
page, for every role, and the logging flow by keyboard alone."""

from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page

from customers.models import Customer
from interactions.models import ImportJob, Interaction
from memory.services import memory_refresh
from tests.browser import log_in, needs_chromium
from tests.factories import CustomerFactory, record

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]

# axe's own scale: minor and moderate findings are reported in the failure message too,
# but only these fail the test (the bar).
BLOCKING = {"serious", "critical"}


def _history(staff: User) -> tuple[Customer, Interaction]:
    customer = CustomerFactory.create(name="Harbour & Sons", owner=staff, notes="Values a call back")
    now = timezone.now()
    complaint = record(customer, at=now - timedelta(days=20), channel="complaint", valence=-2, summary="Late delivery")
    record(customer, at=now - timedelta(days=18), valence=1, resolves=complaint, summary="Refund and apology")
    record(customer, at=now - timedelta(days=9), channel="email", valence=0, summary="Invoice sent")
    mine = record(customer, at=now - timedelta(hours=3), valence=2, staff=staff, summary="Renewal call went well")
    memory_refresh(customer_id=customer.pk)
    unhappy = CustomerFactory.create(name="Quayside Ltd")
    record(unhappy, at=now - timedelta(days=2), channel="complaint", valence=-2, summary="Still broken")
    memory_refresh(customer_id=unhappy.pk)
    return customer, mine


def _scan(page: Page, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"]][:3]
        found.append(f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}")
    return found


def _pages(customer: Customer, touchpoint: Interaction, job: ImportJob) -> dict[str, list[str]]:
    shared = [
        "/",
        "/customers/",
        "/customers/?q=harb&sort=-score",
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/edit/",
        f"/touchpoints/{touchpoint.pk}/correct/",
        "/log/",
        f"/customers/{customer.pk}/log/",
    ]
    manager = [*shared, "/dashboard/", "/dashboard/?period=365"]
    return {
        "staff_member": shared,
        "manager": manager,
        "administrator": [*manager, "/imports/", f"/imports/{job.pk}/"],
    }


@pytest.mark.parametrize("persona", ["staff_member", "manager", "administrator"])
def test_axe_finds_no_serious_violation_on_any_page(
    browser: Browser, live_server: Any, persona: str, staff_member: User, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    customer, touchpoint = _history(staff_member)
    job = ImportJob.objects.create(filename="history.csv", rows_total=2, rows_done=2, created=2, status="done")
    # axe is injected as a script; the product's CSP rightly forbids that, so only this
    # browser context sets it aside (test_browser.py holds the CSP itself).
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        found = {url: _scan(page, f"{live_server}{url}") for url in ["/login/"]}
        log_in(page, str(live_server), user)
        for url in _pages(customer, touchpoint, job)[persona]:
            found[url] = _scan(page, f"{live_server}{url}")
    finally:
        context.close()
    report = "\n".join(f"{url}: {v}" for url, violations in found.items() for v in violations)
    blocking = [line for line in report.splitlines() if line.split(": ", 2)[1].split(":")[0] in BLOCKING]
    assert not blocking, report
