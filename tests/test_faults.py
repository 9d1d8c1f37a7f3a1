"""Faults against the real stack: Redis stopped mid-push, a worker killed mid-task, many
concurrent writers. Each scenario counts what was sent, answered, stored, duplicated and
lost, prints the counts (run with -s to see them) and requires that nothing is lost or
duplicated and that every score converges to a recompute.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from customers.models import Customer
from harness.stack import RedisServer, Stack, wait_for_none_left, wait_until
from integrations.models import APIKey
from interactions.models import Interaction
from tests.convergence import duplicated_keys, memory_mismatches

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
# How a Celery worker logs a drain it ran, and how many memories it refreshed.
DRAIN_SUCCEEDED = re.compile(r"refresh_stale_memories\[[^\]]*\] succeeded in [0-9.e-]+s: (\d+)")


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(redis: RedisServer) -> Iterator[Stack]:
    running = Stack(redis, MEMORY_SWEEP_SECONDS="2", CELERY_VISIBILITY_TIMEOUT="5")
    yield running
    running.stop()


@pytest.fixture
def push_key() -> str:
    _, key = APIKey.objects.create_key(name="fault tests", scope="push")
    return key


def touchpoint(n: int, customers: int) -> dict[str, Any]:
    """Touchpoint n, for customer F-(n mod customers)."""
    return for_customer(n, n % customers)


def for_customer(n: int, customer: int) -> dict[str, Any]:
    return {
        "customer_ref": f"F-{customer:03d}",
        "customer_name": f"Fault customer {customer}",
        "channel": ["call", "email", "complaint", "chat"][n % 4],
        "valence": (n % 5) - 2,
        "occurred_at": (START + timedelta(hours=n)).isoformat(),
        "summary": f"touchpoint {n}",
        "source": "faults",
        "external_id": f"t-{n}",
    }


class Tally:
    """What a scenario sent and what the server answered."""

    def __init__(self) -> None:
        self.sent: set[str] = set()
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()

    def push(self, stack: Stack, key: str, item: dict[str, Any]) -> int:
        status, body = stack.request("POST", "/api/v1/interactions/", key=key, body=item)
        with self.lock:
            self.sent.add(item["external_id"])
            self.requests += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
        assert status in (200, 201), (status, body)
        return status

    def push_bulk(self, stack: Stack, key: str, items: list[dict[str, Any]]) -> None:
        status, body = stack.request("POST", "/api/v1/interactions/bulk/", key=key, body={"items": items})
        with self.lock:
            self.sent.update(i["external_id"] for i in items)
            self.requests += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
        assert status == 200, (status, body)
        assert body["errors"] == 0, (status, body)

    def report(self, scenario: str) -> dict[str, int]:
        stored = set(Interaction.objects.filter(source="faults").values_list("external_id", flat=True))
        counts = {
            "requests": self.requests,
            "touchpoints sent": len(self.sent),
            "stored": len(stored),
            "duplicated": duplicated_keys(),
            "lost": len(self.sent - stored),
        }
        print(f"\n{scenario}: {counts}; HTTP statuses {dict(sorted(self.statuses.items()))}")
        return counts


def waiting_on_a_lock() -> bool:
    """Whether another session of this database waits for a lock (the worker's refresh,
    blocked on the table this test holds)."""
    with connection.cursor() as cursor:
        # The test asks from inside its own transaction, where PostgreSQL would keep
        # answering from the first snapshot of the activity table.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return bool(cursor.fetchone()[0])


def all_customer_ids() -> list[int]:
    return list(Customer.objects.filter(ref__startswith="F-").values_list("pk", flat=True))


def converge(stack: Stack, timeout: float) -> None:
    """Every score equals a recompute: within `timeout`, or later while customers keep
    catching up (the deadline follows the work, not the machine's speed)."""
    ids = all_customer_ids()
    try:
        wait_for_none_left(
            lambda: len(memory_mismatches(ids)), timeout=timeout, stall=30, what="every score to match a recompute"
        )
    except BaseException:
        print(memory_mismatches(ids)[:10], stack.logs())
        raise


def test_broker_outage_loses_nothing_and_the_sweeper_catches_up(
    redis: RedisServer, stack: Stack, push_key: str
) -> None:
    stack.start_web()
    stack.start_worker()
    stack.start_beat()
    tally, customers = Tally(), 12

    for n in range(20):  # Redis up
        tally.push(stack, push_key, touchpoint(n, customers))
    converge(stack, timeout=60)

    redis.stop()
    outage_started = time.monotonic()
    for n in range(20, 40):
        tally.push(stack, push_key, touchpoint(n, customers))
    tally.push_bulk(stack, push_key, [touchpoint(n, customers) for n in range(40, 60)])
    # Retries of requests from before and during the outage: answered 200, stored once.
    for n in (3, 25, 45):
        assert tally.push(stack, push_key, touchpoint(n, customers)) == 200
    outage_seconds = time.monotonic() - outage_started
    assert Interaction.objects.filter(source="faults").count() == 60
    assert memory_mismatches(all_customer_ids()), "scores cannot be current while the broker is down"

    redis.start()  # empty: every task queued before the outage is gone too
    for n in range(60, 70):
        tally.push(stack, push_key, touchpoint(n, customers))
    converge(stack, timeout=90)

    counts = tally.report(f"broker outage ({outage_seconds:.1f} s of pushes with Redis down)")
    assert counts == {"requests": 54, "touchpoints sent": 70, "stored": 70, "duplicated": 0, "lost": 0}
    assert tally.statuses == {201: 50, 200: 4}  # 50 single creates; 3 retries and the bulk answer


@pytest.mark.parametrize("recovery", ["redelivery", "sweeper"])
def test_worker_killed_mid_task_converges(redis: RedisServer, stack: Stack, push_key: str, recovery: str) -> None:
    stack.start_web()
    tally = Tally()
    for n in range(6):  # one customer; no worker yet, so the refresh task waits in Redis
        tally.push(stack, push_key, touchpoint(n, customers=1))
    customer_id = all_customer_ids()[0]
    assert redis.queued() >= 1

    # Hold the score history's table so the refresh the worker takes blocks inside the
    # task, with the customer taken and its memory computed. (Holding the customer's row
    # would not do: a drain skips customers that others hold, and would finish at once.)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE memory_scoresnapshot IN SHARE MODE")
        doomed = stack.start_worker()
        doomed.wait_for_output("refresh_stale_memories")  # received
        wait_until(waiting_on_a_lock, timeout=30, what="the worker's refresh to wait on the table lock")
        doomed.kill()
        cursor.execute("COMMIT")
    assert memory_mismatches([customer_id]), "the killed worker cannot have finished the refresh"

    if recovery == "redelivery":
        # The unacknowledged task itself comes back (acks_late + the visibility timeout,
        # 5 s in this test, 600 s in production); no sweeper runs.
        survivor = stack.start_worker()
    else:
        # The broker lost the task as well (Redis restarted empty): only the sweeper knows.
        redis.stop()
        redis.start()
        assert redis.queued() == 0
        survivor = stack.start_worker()
        stack.start_beat()
    converge(stack, timeout=60)
    # The score is committed before the worker logs the task's success (it first queues what
    # follows a stored memory, the playbooks' evaluation): wait for the line, do not race it.
    wait_until(
        lambda: any("refresh_stale_memories" in line and "succeeded" in line for line in survivor.output),
        timeout=30,
        what="the surviving worker to log the refresh it ran",
    )
    counts = tally.report(f"worker SIGKILLed mid-task, recovered by {recovery}")
    assert counts == {"requests": 6, "touchpoints sent": 6, "stored": 6, "duplicated": 0, "lost": 0}


def test_concurrent_pushes_for_one_and_many_customers_equal_a_recompute(stack: Stack, push_key: str) -> None:
    stack.start_web(workers=4)
    worker = stack.start_worker(pool="prefork", concurrency=2)
    tally, threads_count, per_thread = Tally(), 8, 40
    started = time.monotonic()
    errors: list[BaseException] = []

    def client(offset: int) -> None:
        try:
            for step in range(per_thread):
                n = offset * per_thread + step
                # Half the traffic hammers customer F-000, half spreads over F-001..F-030;
                # every fifth request repeats one another thread sent (a retry).
                item = for_customer(n, 0 if n % 2 == 0 else 1 + n % 30)
                tally.push(stack, push_key, item)
                if step % 5 == 0:
                    tally.push(stack, push_key, item)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads_count)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert not errors, errors[:3]

    # The same request sent by ten clients at the same instant: stored once.
    total = threads_count * per_thread
    same = for_customer(total, 0)
    barrier = threading.Barrier(10)
    answers: list[int] = []

    def racer() -> None:
        barrier.wait()
        answers.append(tally.push(stack, push_key, same))

    racers = [threading.Thread(target=racer) for _ in range(10)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    assert sorted(answers) == [200] * 9 + [201]
    pushing_seconds = time.monotonic() - started

    converge(stack, timeout=120)
    # The drains were gathered (config/tasking.gather): one that found memories behind
    # began at least MEMORY_GATHER_SECONDS after the one before, not one per touchpoint.
    working_drains = [
        int(found.group(1))
        for line in worker.output
        if (found := DRAIN_SUCCEEDED.search(line)) and found.group(1) != "0"
    ]
    gather_seconds = settings.MEMORY_GATHER_SECONDS or pushing_seconds  # 0 turns gathering off
    assert len(working_drains) <= pushing_seconds / gather_seconds + 5, (
        f"{len(working_drains)} drains in {pushing_seconds:.1f} s of pushes"
    )
    counts = tally.report(f"{threads_count} concurrent clients, then 10 identical requests at once")
    assert counts == {
        "requests": total + total // 5 + 10,
        "touchpoints sent": total + 1,
        "stored": total + 1,
        "duplicated": 0,
        "lost": 0,
    }
    assert tally.statuses == {201: total + 1, 200: total // 5 + 9}
    assert Customer.objects.get(ref="F-000").interactions.count() == total // 2 + 1
