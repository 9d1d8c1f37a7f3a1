"""Thin Celery tasks for touchpoints: take ids, call a service, safe to run twice."""

from celery import shared_task

from config.tasking import RETRY_ON_DATABASE_OUTAGE, enqueue_after_commit
from interactions.imports import import_job_run
from interactions.models import ImportJob


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=5, time_limit=3600)
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)


def schedule_import(job: ImportJob) -> None:
    """Run the import after the job is committed: on a worker, or without a broker on a
    background thread (never inside the upload's request)."""
    enqueue_after_commit(run_import_job, job.pk, outside_request=True)
