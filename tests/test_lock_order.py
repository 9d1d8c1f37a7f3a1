"""Writers and memory refreshes for the same customers, at the same time, on PostgreSQL.

Both must take the customer row lock before touching journeys or snapshots: otherwise a
refresh that updated a journey row waits, at COMMIT, for a foreign-key check on a customer
that a writer holds while the writer waits for that journey row (a deadlock PostgreSQL
breaks by failing one of them).
"""

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from interactions.services import TouchpointIn, interactions_record_many
from memory.models import CustomerMemory
from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _writer(customers: list[Customer], start: datetime, offset: int, errors: list[BaseException]) -> None:
    """25 batches, one touchpoint per customer each, locking in the batch's own order."""
    try:
        for step in range(25):
            at = start + timedelta(minutes=10 * step + offset)
            items = [
                TouchpointIn(
                    customer=c,
                    channel="call",
                    valence=(step % 5) - 2,
                    occurred_at=at,
                    source="race",
                    external_id=f"w{offset}-{step}-{c.pk}",
                )
                for c in (customers if offset % 2 else list(reversed(customers)))
            ]
            interactions_record_many(items=items, refresh_memory=False, notify_webhooks=False)
    except BaseException as exc:
        errors.append(exc)
    finally:
        connection.close()


def _refresher(
    customers: list[Customer], start: datetime, first_day: int, done: threading.Event, errors: list[BaseException]
) -> None:
    # Each reading is on a new day, so each refresh inserts a snapshot row whose
    # foreign key to the customer is checked at COMMIT: the case that deadlocked.
    day = first_day
    try:
        while not done.is_set():
            day += 2
            for customer in customers:
                memory_refresh(customer_id=customer.pk, as_of=start + timedelta(days=day))
    except BaseException as exc:
        errors.append(exc)
    finally:
        connection.close()


def test_concurrent_writes_and_refreshes_never_deadlock() -> None:
    customers = [CustomerFactory.create() for _ in range(4)]
    start = timezone.now() - timedelta(days=30)
    for customer in customers:
        record(customer, at=start)
        memory_refresh(customer_id=customer.pk)
    errors: list[BaseException] = []
    done = threading.Event()
    writers = [threading.Thread(target=_writer, args=(customers, start, n, errors)) for n in range(2)]
    refreshers = [threading.Thread(target=_refresher, args=(customers, start, n, done, errors)) for n in range(2)]
    for thread in writers + refreshers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in refreshers:
        thread.join()

    assert errors == [], errors[:3]
    now = timezone.now()
    for customer in customers:
        running = memory_refresh(customer_id=customer.pk, as_of=now).score
        recomputed = memory_refresh(customer_id=customer.pk, as_of=now, force_recompute=True).score
        assert running == pytest.approx(recomputed, abs=1e-9)
        assert CustomerMemory.objects.get(customer=customer).history_version == customer.interactions.count()
