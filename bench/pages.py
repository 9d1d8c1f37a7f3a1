"""Finding customers and reading long histories, through gunicorn, at 100k customers.

    .venv/bin/python -m bench.pages [--database rememberly_pages] [--requests 40]

Seeds the database on first use (seed_scale: 100,000 customers, 400,000 touchpoints; about
two minutes) and adds two customers of its own: one with 5,000 touchpoints, one with 50.
Then, with 2 gunicorn workers and production settings, p50/p95 of sequential requests:

1. The customer directory (`/customers/?q=...`), for searches that match a handful of
   customers (a reference, part of an e-mail address, a number inside a reference) and
   searches that match thousands (a common surname), and for no search at all sorted by
   score. Measured with the trigram indexes (customers/migrations/0002) and again with them
   dropped in the same run, so the ratio says what the indexes buy. Target: p95 < 150 ms.
2. The customer page of the customer with 5,000 touchpoints against the one with 50, its
   first and its 100th timeline page. Target: the long history within 1.5x of the short.
"""

from __future__ import annotations

import argparse
import secrets

import psycopg2

from bench.common import SERVER, Client, manage, median, percentile, print_table, production_env, running_stack
from bench.scale import CREATE_MANAGER, latencies, login

TRIGRAM_FIELDS = ("name", "ref", "email", "company")

LONG_AND_SHORT = """
from datetime import timedelta
from django.utils import timezone
from customers.models import Customer
from customers.services import customer_create
from interactions.services import TouchpointIn, interactions_record_many
from memory.services import memory_refresh

now = timezone.now()
for ref, n in (("BENCH-LONG", 5000), ("BENCH-SHORT", 50)):
    if Customer.objects.filter(ref=ref).exists():
        continue
    customer = customer_create(ref=ref, name=f"Bench history of {n}")
    channels = ["call", "email", "chat", "meeting", "complaint"]
    items = [
        TouchpointIn(
            customer=customer, channel=channels[i % 5], valence=(i % 5) - 2, source="bench-pages",
            external_id=f"{ref}-{i}", occurred_at=now - timedelta(hours=3 * (n - i)), summary=f"Touchpoint {i}",
        )
        for i in range(n)
    ]
    for start in range(0, n, 500):
        interactions_record_many(items=items[start:start + 500], refresh_memory=False, notify_webhooks=False)
    memory_refresh(customer_id=customer.pk)
print(*Customer.objects.filter(ref__in=["BENCH-LONG", "BENCH-SHORT"]).order_by("ref").values_list("pk", flat=True))
"""


def _ensure_seeded(url: str, env: dict[str, str], name: str) -> int:
    admin = psycopg2.connect(f"{SERVER}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    print(f"migrate {name} ...", flush=True)
    manage(env, "migrate", "--noinput")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        customers = cur.fetchone()[0]
    if customers < 100_000:
        print("seed_scale: 100,000 customers, 400,000 touchpoints (about two minutes) ...", flush=True)
        manage(env, "seed_scale", "--customers", "100000", "--interactions", "400000")
    return customers


def _trigram_indexes(url: str, *, present: bool) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for field in TRIGRAM_FIELDS:
            if present:
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS customer_{field}_trgm ON customers_customer "
                    f"USING gin (UPPER({field}::text) gin_trgm_ops)"
                )
            else:
                cur.execute(f"DROP INDEX IF EXISTS customer_{field}_trgm")
        cur.execute("ANALYZE customers_customer")


def _measure(client: Client, paths: list[str]) -> list[float]:
    latencies(client, paths[:5])  # warm the worker's connection and caches
    return latencies(client, paths)


def _figure(times: list[float]) -> str:
    return f"p50 {median(times) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_pages")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    url = f"{SERVER}/{args.database}"
    env = production_env(url)
    _ensure_seeded(url, env, args.database)
    print("the customers with 5,000 and 50 touchpoints ...", flush=True)
    long_pk, short_pk = (int(pk) for pk in manage(env, "shell", "-c", LONG_AND_SHORT).split()[-2:])
    manage(env, "collectstatic", "--noinput")
    password = secrets.token_urlsafe(16)
    manage(env, "shell", "-c", CREATE_MANAGER.format(password=password))

    searches = {
        "a reference (S-0054321)": "S-0054321",
        "part of an e-mail (customer7654)": "customer7654",
        "digits inside a reference (43210)": "43210",
        "a common surname (Garcia, ~10% match)": "garcia",
        "nothing matches (zzqx)": "zzqx",
    }
    n = args.requests
    rows: list[tuple[str, str, str, str]] = []
    with running_stack(url, web_workers=2, worker_processes=0) as stack:
        session = Client(stack.port, login(stack.port, "bench-manager", password))
        results: dict[str, dict[bool, list[float]]] = {}
        for indexed in (True, False):
            _trigram_indexes(url, present=indexed)
            for label, text in searches.items():
                times = _measure(session, [f"/customers/?q={text}"] * n)
                results.setdefault(label, {})[indexed] = times
                print(f"  search {label}, trigram indexes {'on' if indexed else 'off'}: {_figure(times)}", flush=True)
        _trigram_indexes(url, present=True)
        for label, by_index in results.items():
            ratio = median(by_index[False]) / median(by_index[True])
            rows.append((f"1. directory search: {label}", "p95 < 150 ms", _figure(by_index[True]),
                         f"without trigram indexes: {_figure(by_index[False])} ({ratio:.1f}x slower)"))  # fmt: skip
        unsearched = _measure(session, ["/customers/?sort=score"] * n)
        rows.append(("1. directory, every customer by score, page 1", "p95 < 150 ms", _figure(unsearched),
                     f"{n} sequential requests"))  # fmt: skip
        deep = _measure(session, ["/customers/?sort=name&page=1000"] * n)
        rows.append(("1. directory by name, page 1,000 of 2,000", "p95 < 150 ms", _figure(deep), "OFFSET 49,950"))

        short = _measure(session, [f"/customers/{short_pk}/"] * n)
        long = _measure(session, [f"/customers/{long_pk}/"] * n)
        deep_timeline = _measure(session, [f"/customers/{long_pk}/?page=100#timeline"] * n)
        for label, times in (("5,000 touchpoints", long), ("5,000 touchpoints, timeline page 100", deep_timeline)):
            rows.append((f"2. customer page, {label}", "<= 1.5x the 50 one", _figure(times),
                         f"50 touchpoints: {_figure(short)} ({median(times) / median(short):.2f}x)"))  # fmt: skip
    print_table(rows)


if __name__ == "__main__":
    main()
