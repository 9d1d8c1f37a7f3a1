"""python manage.py seed_scale: a large data set for benchmarks, written with COPY."""

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from tqdm import tqdm

from dashboards.services import daily_stats_rebuild
from demo.scale_data import ScalePlan, seed_scale


class Command(BaseCommand):
    help = (
        "Generate a large, realistic data set (default 100,000 customers, 5,000,000 touchpoints) with "
        "PostgreSQL COPY, then rebuild the dashboard counts and bring every score up to date. "
        "Use a fresh database: it refuses one that already has scale customers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--interactions", type=int, default=5_000_000)
        parser.add_argument("--days", type=int, default=730, help="History length in days (730).")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--processes", type=int, default=2, help="Processes for the score recompute (2).")
        parser.add_argument("--no-scores", action="store_true", help="Leave the scores to the sweeper.")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = ScalePlan(customers=options["customers"], interactions=options["interactions"], days=options["days"],
                         seed=options["seed"])  # fmt: skip
        if plan.customers < 1 or plan.interactions < plan.customers:
            raise CommandError("Give at least one customer and at least one touchpoint per customer.")
        show = options["verbosity"] > 0
        started = time.monotonic()
        with tqdm(total=plan.interactions, desc="touchpoints", unit="row", unit_scale=True, disable=not show) as bar:

            def progress(customers: int, touches: int) -> None:
                bar.update(touches - bar.n)
                bar.set_postfix(customers=customers)

            try:
                customers, touches = seed_scale(plan, now=timezone.now(), progress=progress)
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
        written = time.monotonic() - started
        self.stdout.write(f"Wrote {customers:,} customers and {touches:,} touchpoints in {written:.0f} s.")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write("Rebuilding the dashboard counts ...")
        daily_stats_rebuild()
        if not options["no_scores"]:
            call_command("recompute_scores", processes=options["processes"], verbosity=options["verbosity"])
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # and the new snapshots and journey values
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.0f} s."))
