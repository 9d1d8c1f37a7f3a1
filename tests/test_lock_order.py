"""Writers and memory refreshes for the same customers, at the same time, on PostgreSQL.

Both must take the customer row lock before touching journeys or snapshots: otherwise a
refresh that updated a journey row waits, at COMMIT, for a foreign-key check on a customer
that a writer holds while the writer waits for that journey row (a deadlock PostgreSQL
breaks by failing one of them).
"""

import threading
import time
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


def test_batches_that_create_the_same_new_customers_in_other_orders_do_not_deadlock() -> None:
    """New customers are inserted in the order of their refs, whatever the order of the
    items: two batches creating the same refs wait for each other instead of each holding
    one the other needs (found by bench.bulk_ingest: a 500 on its first request). Here the
    other batch is a transaction that holds ZZ-1 and then wants ZZ-2."""
    results: list[str] = []
    errors: list[BaseException] = []
    holding = threading.Event()
    released = threading.Event()

    def other_batch() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(NEW_CUSTOMER, ["ZZ-1"])
                holding.set()
                released.wait(timeout=30)
                time.sleep(0.3)  # let the batch reach its wait on ZZ-1 (or ZZ-2 first)
                cursor.execute(NEW_CUSTOMER, ["ZZ-2"])
                cursor.execute("COMMIT")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def batch() -> None:
        try:
            items = [
                TouchpointIn(
                    customer_ref=ref, customer_name=f"Customer {ref}", channel="call", valence=1,
                    occurred_at=timezone.now(), source="race", external_id=f"new-{ref}",
                )
                for ref in ("ZZ-2", "ZZ-1")  # not in ref order
            ]  # fmt: skip
            results.extend(r.status for r in interactions_record_many(items=items, refresh_memory=False))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    other = threading.Thread(target=other_batch)
    other.start()
    assert holding.wait(timeout=30)
    writer = threading.Thread(target=batch)
    writer.start()
    released.set()
    other.join(timeout=60)
    writer.join(timeout=60)
    assert not errors, errors
    assert results == ["created", "created"]
    assert Customer.objects.filter(ref__in=["ZZ-1", "ZZ-2"]).count() == 2


NEW_CUSTOMER = (
    "INSERT INTO customers_customer (ref, name, kind, email, company, notes, history_version, rewrite_version, "
    "memory_version, created_at, updated_at) VALUES (%s, 'Other', 'business', '', '', '', 0, 0, 0, now(), now())"
)
