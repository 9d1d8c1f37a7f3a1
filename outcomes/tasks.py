"""Thin Celery tasks for outcomes: take ids, call a service, safe to run twice."""

from celery import shared_task

from config.tasking import RETRY_ON_DATABASE_OUTAGE, enqueue_after_commit
from interactions.models import ImportJob
from outcomes.imports import outcome_import_run
from outcomes.models import BacktestRun, VersionPreview
from outcomes.services import backtest_run_execute, version_preview_execute


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=3, time_limit=3600)
def run_backtest(run_id: int) -> None:
    backtest_run_execute(run_id=run_id)  # marks the run failed on anything but a database outage


def schedule_backtest(run: BacktestRun) -> None:
    """On a worker, or without a broker on a background thread: never inside the request."""
    enqueue_after_commit(run_backtest, run.pk, outside_request=True)


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=3, time_limit=540, soft_time_limit=500)
def run_version_preview(preview_id: int) -> None:
    version_preview_execute(preview_id=preview_id)  # marks the preview failed on anything but an outage


def schedule_preview(preview: VersionPreview) -> None:
    enqueue_after_commit(run_version_preview, preview.pk, outside_request=True)


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=5, time_limit=3600)
def run_outcome_import(job_id: int) -> None:
    outcome_import_run(job_id=job_id)


def schedule_outcome_import(job: ImportJob) -> None:
    """Like the touchpoints' import: after commit, never inside the upload's request."""
    enqueue_after_commit(run_outcome_import, job.pk, outside_request=True)
