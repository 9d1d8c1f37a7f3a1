"""Thin Celery tasks of the memory engine: take ids, call a service, safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from config.tasking import RETRY_ON_DATABASE_OUTAGE, enqueue_after_commit, gather, release_coalesced
from customers.models import Customer
from memory.models import ScoringVersion
from memory.services import (
    memories_behind,
    memory_refresh_many,
    memory_refresh_stale,
    scoring_version_run,
    stale_customer_ids,
)

logger = logging.getLogger(__name__)

RETRYABLE = (OperationalError, InterfaceError)
SWEEP_LIMIT = 20_000
REFRESH_CHUNK = 200


REFRESH_QUEUED = "memory-refresh-queued"

# A drain works this long, then queues the next: a task never outlives the broker's
# visibility timeout (600 s), after which Redis would hand it to a second worker.
DRAIN_SLICE_SECONDS = 240


def schedule_memory_refresh() -> None:
    """Bring every memory that is behind up to date once the current transaction commits.

    One task at a time is queued (coalesced): under a stream of touchpoints one drain
    refreshes every customer that changed meanwhile, in batches, at a fraction of the cost
    of a task per customer. What to refresh is read from the database when the task runs,
    so the task carries no ids and a lost one loses nothing (the sweeper queues another)."""
    enqueue_after_commit(refresh_stale_memories, coalesce_key=REFRESH_QUEUED)


DRAIN_STARTED = "memory-drain-started"


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=10, time_limit=600, soft_time_limit=540)
def refresh_stale_memories() -> int:
    if memories_behind():  # else a drain before this one took it all: nothing to wait for
        # The queued mark is still set while it gathers: touchpoints stored meanwhile
        # queue no task of their own, this one takes them.
        gather(refresh_stale_memories, DRAIN_STARTED, settings.MEMORY_GATHER_SECONDS)
    release_coalesced(REFRESH_QUEUED)
    refreshed, more = memory_refresh_stale(seconds=DRAIN_SLICE_SECONDS)
    # In-process (no worker) a held customer is left to the next write: queued inline,
    # the task would run again at once, as often as the lock lasts.
    if more and not refresh_stale_memories.request.is_eager:
        refresh_stale_memories.delay()
    return refreshed


@shared_task(acks_late=True, autoretry_for=RETRYABLE, retry_backoff=5, max_retries=3)
def sweep_stale_memories() -> int:
    """Queue a refresh when any memory is behind: the safety net that makes a lost task
    (broker down, worker killed) cost latency, never data. Queued even if a task seems to
    be queued already: that mark may belong to the task that was lost."""
    behind = len(stale_customer_ids(limit=SWEEP_LIMIT))
    if behind:
        refresh_stale_memories.delay()
        logger.info("sweeper found %d stale customer memories and queued a refresh", behind)
    return behind


@shared_task(acks_late=True, autoretry_for=RETRYABLE, retry_backoff=5, max_retries=5, time_limit=600)
def refresh_memory_chunk(customer_ids: list[int]) -> None:
    memory_refresh_many(customer_ids=customer_ids)


@shared_task(acks_late=True, autoretry_for=RETRYABLE, retry_backoff=5, max_retries=3)
def refresh_all_memories() -> int:
    """Nightly: re-read every memory as of today (memories fade with no news)."""
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), REFRESH_CHUNK):
        refresh_memory_chunk.delay(ids[start : start + REFRESH_CHUNK])
    return len(ids)


# A scoring version is applied in slices of the same length, for the same reason.
APPLY_SLICE_SECONDS = DRAIN_SLICE_SECONDS


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=20, time_limit=600, soft_time_limit=540)
def apply_scoring_version(version_id: int) -> None:
    """Put a scoring version in force, a slice at a time (resumes where a dead worker left it)."""
    if scoring_version_run(version_id=version_id, seconds=APPLY_SLICE_SECONDS):
        apply_scoring_version.delay(version_id)


def schedule_scoring_version_apply(version: ScoringVersion) -> None:
    """On a worker, or without a broker on a background thread: never inside the request."""
    enqueue_after_commit(apply_scoring_version, version.pk, outside_request=True)
