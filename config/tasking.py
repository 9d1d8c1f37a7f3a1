"""The one way the product queues background work: after commit, never failing the caller.

The database is the outbox. A task is only a latency hint: if the broker is down when a
touchpoint is stored, the touchpoint is still stored and the periodic sweeper
(memory.tasks.sweep_stale_memories) catches the score up, so a broker failure here is
logged, never raised into the request that stored the data.
"""

import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import Task
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connections, transaction

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 60

# The options of every task that reads and writes the database: acknowledged only when
# done (a worker killed mid-task leaves it queued), retried with capped backoff while the
# database is unreachable.
RETRY_ON_DATABASE_OUTAGE: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 60,
}

# Without a broker (the embedded demo) tasks run in-process. Work that waits on other
# systems (webhook receivers) must still never run inside the request that caused it:
# it goes to these threads instead.
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rememberly-task")


def _run_in_thread(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args)
    except Exception:
        logger.exception("background task %s%r failed", task.name, args)
    finally:
        connections.close_all()


def _send(task: Task, args: tuple[Any, ...], coalesce_key: str | None, outside_request: bool) -> None:
    try:
        # One queued task per key at a time: a burst of touchpoints for one customer
        # queues one refresh. The task deletes the key before reading, so anything
        # committed after that queues a fresh task.
        eager = task.app.conf.task_always_eager
        coalesce = coalesce_key is not None and not eager
        if coalesce and not cache.add(coalesce_key, 1, timeout=COALESCE_SECONDS):
            return
        if eager and outside_request and settings.EMBEDDED_BACKGROUND_THREADS:
            _background.submit(_run_in_thread, task, args)
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


def enqueue_after_commit(
    task: Task, *args: Any, coalesce_key: str | None = None, outside_request: bool = False
) -> None:
    """Queue `task(*args)` once the current transaction commits (at once outside one).
    `outside_request`: without a broker, run it on a background thread, not inline."""
    transaction.on_commit(lambda: _send(task, args, coalesce_key, outside_request))


def release_coalesced(coalesce_key: str) -> None:
    """Called by a coalesced task before it reads anything: from here on the next write
    queues a new task, so nothing committed after this point can be missed."""
    try:
        cache.delete(coalesce_key)
    except Exception:  # the mark expires on its own (COALESCE_SECONDS)
        logger.warning("could not clear the queued mark %s", coalesce_key, exc_info=True)


def gather(task: Task, mark: str, seconds: float) -> None:
    """Let work gather before a coalesced stage runs: wait until `seconds` after the last
    run under `mark` began, then note that this run begins now.

    A drain or an evaluation has a fixed cost per run (tens of milliseconds, whatever it
    takes). Under a stream of writes each commit would find the previous run finished and
    queue the next, so the worker paid that cost once per write on the cores the web needs;
    with this wait it pays it at most once per `seconds`, and each run takes everything
    that arrived meanwhile. When writes are rare the last run is long past: no wait.

    The wait is spent inside the running task, not as a countdown: a countdown message
    waits in the worker unacknowledged, and kombu's Redis transport crashes the worker
    when the broker goes away while it holds one. In-process runs (no broker) never wait:
    they run inside the request that queued them."""
    if seconds <= 0 or task.request.is_eager:
        return
    try:
        last = cache.get(mark)
        if last is not None:
            wait = min(seconds, float(last) + seconds - time.time())
            if wait > 0:
                time.sleep(wait)
        cache.set(mark, time.time(), timeout=max(COALESCE_SECONDS, 2 * seconds))
    except Exception:  # the cache is down: run now, the stage itself does not need it
        logger.warning("could not read or note when %s last ran; running at once", task.name, exc_info=True)
