"""Thin Celery tasks of the memory engine: take ids, call a service, safe to run twice."""

import logging

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from config.tasking import RETRY_ON_DATABASE_OUTAGE, enqueue_after_commit
from customers.models import Customer
from memory.models import ScoringVersion
from memory.selectors import stale_customer_ids
from memory.services import memory_refresh, scoring_version_run

logger = logging.getLogger(__name__)

RETRYABLE = (OperationalError, InterfaceError)
SWEEP_LIMIT = 20_000
REFRESH_CHUNK = 500


def _queued_key(customer_id: int) -> str:
    return f"memory-refresh-queued:{customer_id}"


def schedule_memory_refresh(customer_id: int) -> None:
    """Refresh this customer's memory after the current transaction commits (coalesced)."""
    enqueue_after_commit(refresh_customer_memory, customer_id, coalesce_key=_queued_key(customer_id))


@shared_task(
    acks_late=True,
    autoretry_for=RETRYABLE,
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=10,
)
def refresh_customer_memory(customer_id: int) -> None:
    # Let the next touchpoint queue a new task from here on, before reading anything, so
    # nothing committed after this point can be missed.
    try:
        cache.delete(_queued_key(customer_id))
    except Exception:
        logger.warning("could not clear the queued mark of customer %s", customer_id, exc_info=True)
    try:
        memory_refresh(customer_id=customer_id)
    except Customer.DoesNotExist:
        logger.info("customer %s was deleted before their memory refresh ran", customer_id)


@shared_task(acks_late=True, autoretry_for=RETRYABLE, retry_backoff=5, max_retries=3)
def sweep_stale_memories() -> int:
    """Queue a refresh for every customer whose memory is behind: the safety net that
    makes a lost task (broker down, worker killed) cost latency, never data."""
    ids = stale_customer_ids(limit=SWEEP_LIMIT)
    for customer_id in ids:
        schedule_memory_refresh(customer_id)
    if ids:
        logger.info("sweeper queued %d stale customer memories", len(ids))
    return len(ids)


@shared_task(acks_late=True, autoretry_for=RETRYABLE, retry_backoff=5, max_retries=5, time_limit=600)
def refresh_memory_chunk(customer_ids: list[int]) -> None:
    for customer_id in customer_ids:
        try:
            memory_refresh(customer_id=customer_id)
        except Customer.DoesNotExist:
            continue


@shared_task(acks_late=True, autoretry_for=RETRYABLE, retry_backoff=5, max_retries=3)
def refresh_all_memories() -> int:
    """Nightly: re-read every memory as of today (memories fade with no news)."""
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), REFRESH_CHUNK):
        refresh_memory_chunk.delay(ids[start : start + REFRESH_CHUNK])
    return len(ids)


# Each run works this long, then queues the next: a task never outlives the broker's
# visibility timeout (600 s), after which Redis would hand it to a second worker.
APPLY_SLICE_SECONDS = 240


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=20, time_limit=600, soft_time_limit=540)
def apply_scoring_version(version_id: int) -> None:
    """Put a scoring version in force, a slice at a time (resumes where a dead worker left it)."""
    if scoring_version_run(version_id=version_id, seconds=APPLY_SLICE_SECONDS):
        apply_scoring_version.delay(version_id)


def schedule_scoring_version_apply(version: ScoringVersion) -> None:
    """On a worker, or without a broker on a background thread: never inside the request."""
    enqueue_after_commit(apply_scoring_version, version.pk, outside_request=True)
