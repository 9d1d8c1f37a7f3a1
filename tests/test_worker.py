"""The real path: a touchpoint committed to PostgreSQL, a task through Redis, a real worker."""

import os
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from customers.models import Customer
from harness.stack import Service, process_database_url, wait_until
from interactions.services import interaction_record
from memory.models import CustomerMemory
from playbooks.models import Task
from tests.broker import purge_queue
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def celery_worker_process() -> Iterator[list[str]]:
    purge_queue()
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--pool", "solo"]
    worker = Service("celery worker", command, {**os.environ, "DATABASE_URL": process_database_url()})
    worker.wait_for_output("ready.")
    celery_app.conf.task_always_eager = False
    try:
        yield worker.output
    finally:
        worker.stop()


def _wait_for_memory(customer: Customer, version: int, timeout: float = 30.0) -> CustomerMemory:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        memory = CustomerMemory.objects.filter(customer=customer, history_version__gte=version).first()
        if memory is not None:
            return memory
        time.sleep(0.1)
    pytest.fail(f"no memory at version {version} for customer {customer.pk} within {timeout} s")


def test_real_worker_updates_the_score_after_a_touchpoint_is_committed(celery_worker_process: list[str]) -> None:
    customer = CustomerFactory.create()
    interaction_record(
        customer=customer,
        channel="complaint",
        valence=-2,
        occurred_at=timezone.now(),
        source="helpdesk",
        external_id="ticket-1",
    )
    memory = _wait_for_memory(customer, 1)
    assert memory.band == "at_risk"
    assert memory.score < 15
    # The stored memory queues the playbooks' evaluation, through Redis to the same worker.
    wait_until(
        lambda: Task.objects.filter(customer=customer, playbook__kind="at_risk").exists(),
        timeout=30,
        what="the worker's playbook evaluation to open an at-risk task",
    )

    interaction_record(
        customer=customer,
        channel="call",
        valence=2,
        intensity=4,
        occurred_at=timezone.now(),
        source="helpdesk",
        external_id="ticket-1-fixed",
        resolves=customer.interactions.get(),
    )
    recovered = _wait_for_memory(customer, 2)
    # A severe complaint recovered excellently the same minute: about 12.6 -> 41.6, lifted
    # but still below neutral (docs/memory-score.md: after a severe failure, recovery never
    # beats never failing).
    assert memory.score + 25 < recovered.score < 50
    for task_name in ("refresh_stale_memories", "evaluate_pending_playbooks"):
        wait_until(
            partial(_logged_success, celery_worker_process, task_name),
            timeout=30,
            what=f"the worker to log a {task_name} it ran",
        )


def _logged_success(output: list[str], task_name: str) -> bool:
    return any(task_name in line and "succeeded" in line for line in output)


def test_health_is_green_when_a_worker_answers(celery_worker_process: list[str], client: Any, settings: Any) -> None:
    settings.HEALTH_TOKEN = "monitor-secret"
    assert client.get("/health/").content == b"ok\n"  # the bare answer for anyone
    response = client.get("/health/", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION="Bearer monitor-secret")
    assert response.status_code == 200, response.content
    assert all(value == "OK" for value in response.json().values())
