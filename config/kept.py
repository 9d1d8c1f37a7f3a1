"""Small tables read by every write (journey stages, channel defaults, webhook
subscriptions), kept in each process until they change.

Each kept table has a generation in the shared cache (Redis), moved by every change to
it: the models' save and delete signals, and a flush or migration. (A queryset update
sends no signal: write these tables with save(), or call `changed()` after.) A process
compares the generation of its copy with the shared one, one cache read where it used to
run a query and build model objects, and reads the table again when they differ.

A change moves the generation at once and again when its transaction commits: at once so
that no process keeps its old copy, and at commit so that a process that read the table
between the two (still seeing the old rows) reads it again. The process that made the
change reads the table afresh, without keeping it, until its transaction is over: what
it sees then may still be rolled back.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

logger = logging.getLogger(__name__)

T = TypeVar("T")

_every_table: list["KeptTable[Any]"] = []


class KeptTable(Generic[T]):
    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self.name = name
        self._mark = f"kept-table-generation:{name}"
        self._load = load
        self._kept: tuple[str, T] | None = None
        # Per thread, as database connections and their transactions are.
        self._changing = threading.local()
        _every_table.append(self)

    def get(self) -> T:
        """The table: this process's copy while nothing changed it, else read anew."""
        if not settings.KEEP_SMALL_TABLES:
            return self._load()
        if getattr(self._changing, "inside", False):
            if connection.in_atomic_block:
                return self._load()  # our own change, not committed yet: never keep it
            self._changing.inside = False
        try:
            generation = cache.get(self._mark) or self._new_generation()
        except Exception:  # the cache is down: read the table every time until it is back
            logger.warning("kept table %s read afresh: the cache is unavailable", self._mark, exc_info=True)
            return self._load()
        kept = self._kept
        if kept is not None and kept[0] == generation:
            return kept[1]
        value = self._load()
        self._kept = (generation, value)
        return value

    def changed(self) -> None:
        """Call after changing the table other than by a model's save or delete."""
        self._kept = None
        if connection.in_atomic_block:
            self._changing.inside = True
        self._move()
        transaction.on_commit(self._move, robust=True)

    def forget(self) -> None:
        """Drop this process's copy and this thread's change in flight (for tests, whose
        transactions roll back without the thread ever leaving a transaction)."""
        self._kept = None
        self._changing.inside = False

    def _new_generation(self) -> str:
        # The mark was evicted, or never set: start one every process agrees on.
        cache.add(self._mark, uuid.uuid4().hex, timeout=None)
        return str(cache.get(self._mark))

    def _move(self) -> None:
        try:
            cache.set(self._mark, uuid.uuid4().hex, timeout=None)
        except Exception:  # other processes keep their copies until the cache is back
            logger.warning("could not mark kept table %s as changed", self._mark, exc_info=True)


def keep_current(table: KeptTable[Any], *models: type) -> None:
    """Mark `table` changed whenever a row of one of `models` is saved or deleted."""

    def on_change(**_: Any) -> None:
        table.changed()

    for model in models:
        for signal in (post_save, post_delete):
            signal.connect(on_change, sender=model, weak=False, dispatch_uid=f"kept:{table.name}:{model.__name__}")


def _all_changed(**_: Any) -> None:
    for table in _every_table:
        table.changed()


# A flush (the tests' database reset) or a migration rewrites tables without signals.
post_migrate.connect(_all_changed, dispatch_uid="config.kept.all_changed")
