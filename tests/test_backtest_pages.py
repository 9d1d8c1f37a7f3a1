"""The backtest from the database: the command, the manager page (run in the background,
progress, report) and the API; only managers and administrators."""

import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import APIKey
from memory.services import scoring_version_draft
from outcomes.models import BacktestRun, RunStatus, VersionPreview
from outcomes.services import (
    backtest_run_create,
    backtest_run_execute,
    outcome_record,
    version_preview_create,
    version_preview_execute,
)
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> dict[str, Any]:
    """Twelve customers scored before the cut-off; the unhappy ones churn after it."""
    now = timezone.now()
    cutoff = now - timedelta(days=60)
    for n in range(12):
        customer = CustomerFactory.create(ref=f"B-{n}")
        unhappy = n % 3 == 0
        record(customer, at=cutoff - timedelta(days=30), valence=-2 if unhappy else 2, channel="call")
        record(customer, at=cutoff - timedelta(days=5), valence=-1 if unhappy else 1, channel="email")
        if unhappy:
            outcome_record(
                customer=customer, kind="churned", occurred_at=cutoff + timedelta(days=20), source="crm",
                external_id=f"churn-{n}",
            )  # fmt: skip
    return {"cutoff": cutoff}


def test_the_command_prints_the_table_and_says_when_there_is_too_little_data(history: dict[str, Any]) -> None:
    out = io.StringIO()
    call_command("backtest", "--cutoff", history["cutoff"].date().isoformat(), "--no-progress", stdout=out)
    text = out.getvalue()
    assert "12 customers, 4 churned in the window" in text
    assert "| memory score |" in text
    assert "| recency-weighted average |" in text
    assert "Not enough data to judge churn (ROC AUC)" in text
    run = BacktestRun.objects.get()
    assert run.status == RunStatus.DONE
    assert run.reports[0]["churned"] == 4
    memory = next(p for p in run.reports[0]["predictors"] if p["name"] == "memory score")
    assert memory["churn_auc"]["value"] == 1.0
    assert memory["churn_auc"]["n"] == 12


def test_a_touchpoint_after_the_cutoff_changes_nothing(history: dict[str, Any]) -> None:
    def report() -> dict[str, Any]:
        call_command(
            "backtest", "--cutoff", history["cutoff"].date().isoformat(), "--no-progress", stdout=io.StringIO()
        )
        return BacktestRun.objects.order_by("-id").first().reports[0]  # type: ignore[union-attr]

    before = report()
    for n in range(0, 12, 3):  # a furious complaint from every churner, the day after the cut-off
        customer = CustomerFactory._meta.model.objects.get(ref=f"B-{n}")
        record(customer, at=history["cutoff"] + timedelta(days=1), channel="complaint", valence=-2, intensity=5)
    assert report() == before


def test_a_manager_runs_a_backtest_from_the_page(
    client: Client, manager: User, history: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(manager)
    page = client.get("/backtests/")
    assert page.status_code == 200
    assert "No backtest yet." in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/backtests/", {"cutoff": history["cutoff"].date().isoformat(), "window_days": 90, "rolling": "on"}
        )
    run = BacktestRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/backtests/{run.pk}/"
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert run.rolling
    body = client.get(f"/backtests/{run.pk}/").content.decode()
    assert "12 customers scored as of" in body
    assert "4 churned" in body
    assert "Not enough data to judge churn" in body
    assert "memory score" in body
    assert 'aria-describedby="deciles-words"' in body
    assert "Churn in the window was" in body
    listing = client.get("/backtests/").content.decode()
    assert f'href="/backtests/{run.pk}/"' in listing
    assert "Done" in listing


def test_a_bad_backtest_request_names_the_field(client: Client, manager: User) -> None:
    client.force_login(manager)
    future = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post("/backtests/", {"cutoff": future, "window_days": 90})
    assert response.status_code == 400
    assert "in the future" in response.content.decode()
    response = client.post("/backtests/", {"cutoff": "2026-01-01", "window_days": 3})
    assert response.status_code == 400
    assert "greater than or equal to 7" in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_support_staff_do_not_see_backtests(client: Client, staff_member: User) -> None:
    client.force_login(staff_member)
    assert client.get("/backtests/").status_code == 403
    assert 'href="/backtests/"' not in client.get("/").content.decode()


def test_the_api_starts_and_reads_backtests_with_the_right_keys(
    history: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    def client(scope: str) -> APIClient:
        _, key = APIKey.objects.create_key(name=f"bi-{scope}", scope=scope)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return api

    body = {"cutoff": history["cutoff"].isoformat(), "window_days": 90}
    assert client("read").post("/api/v1/backtests/", body, format="json").status_code == 403
    assert client("push").post("/api/v1/backtests/", body, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        started = client("full").post("/api/v1/backtests/", body, format="json")
    assert started.status_code == 202, started.json()
    run = client("read").get(f"/api/v1/backtests/{started.json()['id']}/").json()
    assert run["status"] == "done"
    assert run["reports"][0]["customers"] == 12
    assert run["reports"][0]["verdict"][0].startswith("Not enough data")
    bad = client("full").post("/api/v1/backtests/", {**body, "window_days": 1}, format="json")
    assert bad.status_code == 400
    assert "window_days" in bad.json()


@pytest.mark.parametrize("job", ["backtest", "preview"])
def test_a_job_that_fails_says_why_and_one_that_lost_the_database_is_left_to_its_retry(
    job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pages poll a backtest or a preview until it is done or failed: a failure is
    recorded with its reason; a database outage is not (the task's retry runs it again)."""
    if job == "backtest":
        run: BacktestRun | VersionPreview = backtest_run_create(
            cutoff=timezone.now() - timedelta(days=30), window_days=30
        )
        target, execute = "outcomes.services._execute", lambda: backtest_run_execute(run_id=run.pk)
    else:
        draft = scoring_version_draft(actor="test", parameters={"loss_aversion": 3.0})
        run = version_preview_create(version=draft)
        target, execute = "outcomes.services._preview", lambda: version_preview_execute(preview_id=run.pk)

    def lose_the_database(*args: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(target, lose_the_database)
    with pytest.raises(OperationalError):
        execute()
    run.refresh_from_db()
    assert (run.status, run.problem) == (RunStatus.RUNNING, "")

    def break_it(*args: Any) -> None:
        raise ValueError("no outcomes table")

    monkeypatch.setattr(target, break_it)
    with pytest.raises(ValueError, match="no outcomes table"):
        execute()
    run.refresh_from_db()
    assert (run.status, run.problem) == (RunStatus.FAILED, "ValueError: no outcomes table")
