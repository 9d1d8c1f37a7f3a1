"""The real path: a touchpoint committed to PostgreSQL, a task through Redis, a real worker."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from customers.models import Customer
from interactions.services import interaction_record
from memory.models import CustomerMemory
from tests.broker import purge_queue
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PROJECT = Path(__file__).resolve().parent.parent


def _test_database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker_process() -> Iterator[list[str]]:
    purge_queue()
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + 60
    while not any("ready." in line for line in output):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the Celery worker did not start:\n" + "".join(output))
        time.sleep(0.2)
    celery_app.conf.task_always_eager = False
    try:
        yield output
    finally:
        process.terminate()
        process.wait(timeout=30)


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
    assert memory.band == "at_risk" and memory.score < 10

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
    assert recovered.score > memory.score + 30
    assert any("refresh_customer_memory" in line and "succeeded" in line for line in celery_worker_process)


def test_health_is_green_when_a_worker_answers(celery_worker_process: list[str], client: Any) -> None:
    response = client.get("/health/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    assert all(value == "OK" for value in response.json().values())
