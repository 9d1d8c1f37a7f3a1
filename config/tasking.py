"""The one way the product queues background work: after commit, never failing the caller.

The database is the outbox. A task is only a latency hint: if the broker is down when a
touchpoint is stored, the touchpoint is still stored and the periodic sweeper
(memory.tasks.sweep_stale_memories) catches the score up, so a broker failure here is
logged, never raised into the request that stored the data.
"""

import contextlib
import logging
from typing import Any

from celery import Task
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 60


def _send(task: Task, args: tuple[Any, ...], coalesce_key: str | None) -> None:
    try:
        # One queued task per key at a time: a burst of touchpoints for one customer
        # queues one refresh. The task deletes the key before reading, so anything
        # committed after that queues a fresh task.
        coalesce = coalesce_key is not None and not task.app.conf.task_always_eager
        if coalesce and not cache.add(coalesce_key, 1, timeout=COALESCE_SECONDS):
            return
        task.apply_async(args=args)
    except Exception:
        logger.exception(
            "could not queue %s%r; the data is stored and a periodic sweeper will queue it again", task.name, args
        )
        if coalesce_key is not None:
            # The cache is usually the broker's Redis, down as well; already logged above.
            with contextlib.suppress(Exception):
                cache.delete(coalesce_key)


def enqueue_after_commit(task: Task, *args: Any, coalesce_key: str | None = None) -> None:
    """Queue `task(*args)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _send(task, args, coalesce_key))
