"""The scoring model's pages: only administrators change the model, managers read it (and
its previews and backtests); the whole lifecycle of a version in Chromium, ending with every
score equal to a from-scratch recompute under the version in force."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from customers.models import Customer
from memory.models import ScoringVersion, VersionStatus
from memory.services import memory_parameters, memory_recompute_many, scoring_version_draft
from outcomes.models import VersionPreview
from outcomes.services import outcome_record
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.factories import CustomerFactory, record
from tests.test_scoring_versions import assert_equal_scores, from_scratch

pytestmark = pytest.mark.django_db


def _history() -> list[Customer]:
    now = timezone.now()
    made = []
    for n in range(8):
        customer = CustomerFactory.create(ref=f"P-{n}", name=f"Pier {n} Ltd")
        record(customer, at=now - timedelta(days=150), valence=2, channel="meeting")
        for k in range(n % 3):
            record(customer, at=now - timedelta(days=120 - k), valence=-2, channel="complaint", intensity=4)
        record(customer, at=now - timedelta(days=4), valence=1 if n % 2 else -1, channel="email")
        if n % 3 == 2:
            outcome_record(
                customer=customer, kind="churned", occurred_at=now - timedelta(days=30), source="crm",
                external_id=f"c-{n}",
            )  # fmt: skip
        made.append(customer)
    memory_recompute_many(customer_ids=[c.pk for c in made])
    return made


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/model/"),
        ("get", "/model/{n}/edit/"),
        ("post", "/model/{n}/edit/"),
        ("post", "/model/{n}/preview/"),
        ("post", "/model/{n}/apply/"),
        ("post", "/model/{n}/discard/"),
        ("post", "/model/rollback/"),
    ],
)
def test_only_administrators_change_the_model(
    client: Client, manager: User, staff_member: User, administrator: User, method: str, path: str
) -> None:
    draft = scoring_version_draft(actor=administrator, parameters={"loss_aversion": 3.0})
    url = path.format(n=draft.number)
    data = {"apply-reason": "because", "rollback-reason": "because"}
    for user in (manager, staff_member):
        client.force_login(user)
        assert getattr(client, method)(url, data).status_code == 403, (user.username, url)
    client.logout()
    response = getattr(client, method)(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    assert ScoringVersion.objects.count() == 2
    assert not VersionPreview.objects.exists()


def test_managers_read_the_model_and_its_previews_support_staff_do_not(
    client: Client, manager: User, staff_member: User, administrator: User
) -> None:
    draft = scoring_version_draft(actor=administrator, parameters={"half_life_days": 30.0}, note="fade <faster>")
    client.force_login(manager)
    listing = client.get("/model/").content.decode()
    assert f'href="/model/{draft.number}/"' in listing
    assert "New draft" not in listing
    page = client.get(f"/model/{draft.number}/").content.decode()
    assert "fade &lt;faster&gt;" in page
    assert "Apply version" not in page
    client.force_login(staff_member)
    assert client.get("/model/").status_code == 403
    assert client.get(f"/model/{draft.number}/").status_code == 403


def test_an_administrator_drafts_previews_applies_and_sees_bad_input_named(
    client: Client, administrator: User, django_capture_on_commit_callbacks: Any
) -> None:
    _history()
    client.force_login(administrator)
    response = client.post("/model/")
    draft = ScoringVersion.objects.get(status=VersionStatus.DRAFT)
    assert response["Location"] == f"/model/{draft.number}/edit/"
    form = {name: value for name, value in draft.parameters.items()}
    form.update({f"intensity_{c}": i for c, i in draft.channel_intensities.items()})
    bad = client.post(f"/model/{draft.number}/edit/", {**form, "loss_aversion": "12", "good_above": "20"})
    text = bad.content.decode()
    assert bad.status_code == 400
    assert "Ensure this value is less than or equal to 5.0" in text
    draft.refresh_from_db()
    assert draft.parameters["loss_aversion"] == 2.25  # nothing stored
    inverted = client.post(f"/model/{draft.number}/edit/", {**form, "at_risk_below": "70", "good_above": "60"})
    assert inverted.status_code == 400
    assert "above the at-risk band" in inverted.content.decode()

    saved = client.post(f"/model/{draft.number}/edit/", {**form, "loss_aversion": "4.5", "note": "complaints"})
    assert saved.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/model/{draft.number}/preview/")
    preview = VersionPreview.objects.get()
    assert preview.status == "done"
    assert preview.whatif["changed_parameters"] == ["loss_aversion"]
    assert preview.backtests["draft"]["churned"] == preview.backtests["current"]["churned"]
    shown = client.get(f"/model/{draft.number}/").content.decode()
    assert "The customers who move most" in shown
    assert "Loss aversion (λ) 2.25 → 4.5" in shown

    refused = client.post(f"/model/{draft.number}/apply/", {"apply-reason": ""}, follow=True)
    assert "This field is required." in refused.content.decode()
    assert ScoringVersion.objects.get(pk=draft.pk).status == VersionStatus.DRAFT
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/model/{draft.number}/apply/", {"apply-reason": "complaints weigh more for us"})
    assert ScoringVersion.objects.get(pk=draft.pk).status == VersionStatus.ACTIVE
    assert memory_parameters().loss_aversion == 4.5
    assert_equal_scores(from_scratch(memory_parameters()))


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_a_version_made_applied_and_rolled_back_in_the_browser_leaves_every_score_as_a_recompute(
    page: Page, live_server: Any, administrator: User
) -> None:
    _history()
    original = memory_parameters()
    log_in(page, str(live_server), administrator)
    page.goto(f"{live_server}/model/")
    page.get_by_role("button", name="New draft from the version in force").click()
    page.get_by_label("Loss aversion (λ)").fill("4")
    page.get_by_label("Half-life: days after which a memory weighs half").fill("45")
    page.get_by_label("What this version changes, and why").fill("Complaints weigh more; memories fade faster.")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("heading", name="Version 2: draft")).to_be_visible()

    page.get_by_role("button", name="Preview on the real data").click()
    expect(page.get_by_role("heading", name="The customers who move most")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Backtest, this version beside the one in force")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "model-preview.png", full_page=True)

    page.get_by_label("Why").fill("Managers asked for complaints to count more")
    page.get_by_role("button", name="Apply version 2").click()
    expect(page.get_by_role("heading", name="Version 2: active")).to_be_visible(timeout=30_000)
    applied = memory_parameters()
    assert applied.loss_aversion == 4.0
    assert applied.half_life_days == 45.0
    assert_equal_scores(from_scratch(applied))

    page.goto(f"{live_server}/model/")
    page.get_by_label("Why").fill("The movers could not be explained to the account team")
    page.get_by_role("button", name="Roll back to version 1").click()
    expect(page.get_by_role("heading", name="Version 1: active")).to_be_visible(timeout=30_000)
    page.goto(f"{live_server}/model/")
    page.screenshot(path=ARTIFACTS / "model-versions.png", full_page=True)
    assert memory_parameters() == original
    assert_equal_scores(from_scratch(original))
    expect(page.get_by_text("Rollback: The movers could not be explained")).to_be_visible()
