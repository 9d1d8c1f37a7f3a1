"""Evaluating every playbook for every customer, and for one customer after a new score.

    .venv/bin/python -m bench.playbooks --database rememberly_small [--singles 100]

On a database seeded with seed_scale (bench/README.md) and migrated to the playbooks: every
default playbook switched on (the promoter play too), the existing tasks removed, then
1. a first full evaluation (it creates every task the data calls for);
2. a second one (steady state: everything already has its task, as every five minutes);
3. the evaluation for one customer, as queued after each stored score, for `--singles`
   customers drawn at random: p50 and p95;
and, as the reference, a SQL GROUP BY of all touchpoints by customer in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from bench.common import SERVER, print_table, production_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_small")
    parser.add_argument("--singles", type=int, default=100)
    args = parser.parse_args()
    # The settings read the environment: it is set before Django and the product load.
    os.environ.update(production_env(f"{SERVER}/{args.database}"))
    import django

    django.setup()
    from django.core.management import call_command

    from customers.models import Customer
    from interactions.models import Interaction
    from playbooks.models import Playbook, Task

    call_command("migrate", verbosity=0)
    Playbook.objects.update(enabled=True)
    Task.objects.all().delete()
    scale = f"{Customer.objects.count():,} customers, {Interaction.objects.count():,} touchpoints"
    print(f"{scale}, {Playbook.objects.count()} playbooks on", flush=True)
    first_seconds, first = _timed_evaluation("first full evaluation")
    steady_seconds, second = _timed_evaluation("steady state")
    p50, p95, singles = _single_customer_ms(args.singles)
    group_by = _group_by_seconds()
    print_table(
        [
            (f"every playbook for every customer, first run ({scale})", "< 60 s",
             f"{first_seconds:.1f} s ({first.created:,} tasks created)", f"GROUP BY: {group_by:.1f} s"),
            ("the same, steady state (the five-minute pass)", "< 60 s",
             f"{steady_seconds:.1f} s ({second.created} new)", f"{steady_seconds / group_by:.1f}x the GROUP BY"),
            (f"one customer's playbooks after a new score ({singles} customers)", "within seconds",
             f"p50 {p50:.0f} ms, p95 {p95:.0f} ms", "-"),
        ]
    )  # fmt: skip
    Task.objects.all().delete()


def _timed_evaluation(label: str) -> tuple[float, Any]:
    from playbooks.services import playbooks_evaluate

    started = time.perf_counter()
    result = playbooks_evaluate()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s, {result.created} tasks created", flush=True)
    return seconds, result


def _single_customer_ms(count: int) -> tuple[float, float, int]:
    """p50 and p95 of evaluating one customer's playbooks, over `count` drawn at random."""
    from customers.models import Customer
    from playbooks.services import playbooks_evaluate

    times = []
    for pk in Customer.objects.order_by("?").values_list("pk", flat=True)[:count]:
        started = time.perf_counter()
        playbooks_evaluate(customer_ids=[pk])
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000, len(times)


def _group_by_seconds() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT customer_id, count(*), sum(valence), max(occurred_at) "
            "FROM interactions_interaction GROUP BY customer_id"
        )
        cursor.fetchall()
        return time.perf_counter() - started


if __name__ == "__main__":
    main()
