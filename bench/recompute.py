"""Where a full recompute spends its time: one process, the same customers, three ways.

    .venv/bin/python -m bench.recompute --database rememberly_scale [--customers 2000]

1. memory_refresh(force_recompute=True) customer by customer (the path before batching);
2. memory_recompute_many in batches of 200 (what recompute_scores runs now);
3. the memory engine alone on histories already in memory (no database at all): the
   ceiling for any database-side improvement;
and, as the reference, a SQL GROUP BY over the same customers' rows.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.common import SERVER, print_table, production_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_scale")
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update(production_env(f"{SERVER}/{args.database}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from customers.models import Customer
    from memory.engine import recompute
    from memory.services import customer_touches, memory_parameters, memory_recompute_many, memory_refresh

    ids = list(Customer.objects.order_by("?").values_list("pk", flat=True)[: args.customers])
    n = len(ids)
    half = n // 2

    started = time.perf_counter()
    for pk in ids[:half]:
        memory_refresh(customer_id=pk, force_recompute=True)
    one_by_one = half / (time.perf_counter() - started)

    started = time.perf_counter()
    for start in range(half, n, 200):
        memory_recompute_many(customer_ids=ids[start : start + 200])
    batched = (n - half) / (time.perf_counter() - started)

    histories = [customer_touches(pk) for pk in ids]
    params = memory_parameters()
    started = time.perf_counter()
    for touches in histories:
        recompute(touches, params).state.read(time.time(), params)
    engine = n / (time.perf_counter() - started)

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT customer_id, count(*), sum(valence * intensity), min(valence), max(occurred_at) "
            "FROM interactions_interaction WHERE customer_id = ANY(%s) GROUP BY customer_id",
            [ids],
        )
        cursor.fetchall()
        sql = n / (time.perf_counter() - started)
    total = sum(len(h) for h in histories)
    print(f"{n} customers, {total:,} touchpoints ({total / n:.0f} each), one process")
    rows = [
        ("memory_refresh, one customer at a time", one_by_one),
        ("memory_recompute_many, batches of 200", batched),
        ("engine alone, no database", engine),
        ("SQL GROUP BY customer, same rows", sql),
    ]
    print_table([(name, "-", f"{rate:,.0f} customers/s", f"{rate / sql:.4f}x SQL") for name, rate in rows])


if __name__ == "__main__":
    main()
