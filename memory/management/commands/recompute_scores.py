"""python manage.py recompute_scores: rebuild memories from the whole history."""

import multiprocessing
import multiprocessing.util
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.db.models import Count, QuerySet
from tqdm import tqdm

from customers.models import Customer
from memory.models import CustomerMemory
from memory.services import memory_recompute_many


def _batches(customers: QuerySet[Customer], size: int) -> list[list[int]]:
    """The ids, in batches, read here: a pool consumes its input from a thread of its own,
    whose database connection nobody would close (8 bytes an id: 100k customers ~ 4 MB)."""
    ids = list(customers.values_list("id", flat=True))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _recompute(customer_ids: list[int]) -> int:
    return memory_recompute_many(customer_ids=customer_ids)


class _InProcess:
    """The same interface as a pool, without processes."""

    def imap_unordered(self, func: Callable[[list[int]], int], items: Iterable[list[int]]) -> Iterator[int]:
        return map(func, items)


def _worker_started() -> None:
    # Each child opens its own database connection: the parent's must not be shared. It
    # closes it when it exits, so no session lingers on the database after the command.
    connections.close_all()
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


@contextmanager
def _pool(processes: int) -> Iterator[Any]:
    if processes <= 1:
        yield _InProcess()
        return
    connections.close_all()
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_worker_started)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()  # the workers finish and exit normally, running their finalizers
    finally:
        pool.join()


class Command(BaseCommand):
    help = "Recompute memory scores from every customer's full history (all, or some by ref or segment)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("refs", nargs="*", help="Customer refs; all customers when none given.")
        parser.add_argument("--segment", help="Only customers in this segment (by name).")
        parser.add_argument("--batch-size", type=int, default=1000, help="Customers read per batch (1000).")
        parser.add_argument(
            "--processes", type=int, default=1, help="Worker processes, each with its own connection (1)."
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        customers = Customer.objects.order_by("id")
        if options["refs"]:
            customers = customers.filter(ref__in=options["refs"])
            missing = set(options["refs"]) - set(customers.values_list("ref", flat=True))
            if missing:
                raise CommandError(f"No customer with ref: {', '.join(sorted(missing))}")
        if options["segment"]:
            customers = customers.filter(segment__name=options["segment"])
        total = customers.count()
        if total == 0:
            raise CommandError("No customers match; nothing to recompute.")

        started = time.monotonic()
        done = 0
        with (
            tqdm(
                total=total, desc="recompute", unit="cust", disable=options["no_progress"] or options["verbosity"] == 0
            ) as bar,
            _pool(options["processes"]) as pool,
        ):
            for count in pool.imap_unordered(_recompute, _batches(customers, options["batch_size"])):
                done += count
                bar.update(count)
        elapsed = time.monotonic() - started
        if connection.vendor == "postgresql":
            # Every memory row was rewritten: fresh statistics, or the planner misjudges the
            # dashboard's queries (at-risk list 26 ms -> 220 ms at 100k customers without).
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {CustomerMemory._meta.db_table}")
        bands = dict(CustomerMemory.objects.filter(customer__in=customers).values_list("band").annotate(n=Count("pk")))
        self.stdout.write(
            self.style.SUCCESS(
                f"Recomputed {done} customers in {elapsed:.1f} s ({done / max(elapsed, 1e-9):.0f}/s). "
                f"Bands: {bands.get('good', 0)} good, {bands.get('neutral', 0)} neutral, "
                f"{bands.get('at_risk', 0)} at risk."
            )
        )
