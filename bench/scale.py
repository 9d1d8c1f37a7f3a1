"""Reads at scale and the full recompute, on a database seeded by seed_scale.

    .venv/bin/python -m bench.scale --database rememberly_scale [--requests 200] [--skip-recompute]

The database must have been seeded first (bench/README.md has the commands), e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rememberly_scale SECRET_KEY=x \\
        python manage.py seed_scale --customers 100000 --interactions 5000000

4. p50/p95 latency through gunicorn (2 workers), `--requests` sequential requests each, of
   the customer page (random customers), the manager dashboard, the customer list by
   score (API) and one customer's touchpoints (API). Target p95 < 150 ms.
5. Full recompute of every score (`recompute_scores --processes 2`, customers/s) against
   a plain SQL aggregate over the same rows (GROUP BY customer). Target >= 0.33x. Run
   first, so the pages read current scores.
6. Peak RSS of the web processes and of the recompute.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import secrets
import time
from collections.abc import Callable
from functools import partial
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import psycopg2

from bench.common import SERVER, Client, manage, median, percentile, print_table, production_env, running_stack

CREATE_MANAGER = """
from django.contrib.auth.models import Group, User
user, _ = User.objects.get_or_create(username="bench-manager")
user.set_password("{password}")
user.save()
user.groups.add(Group.objects.get(name="Managers"))
"""


def _cookies(headers: list[str]) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in headers:
        jar.load(header)
    return jar


def login(port: int, username: str, password: str) -> dict[str, str]:
    """Sign in through the login form; returns the Cookie header for the session."""
    client = Client(port)
    client.conn.request("GET", "/login/")
    page = client.conn.getresponse()
    cookies = _cookies(page.headers.get_all("Set-Cookie") or [])
    html = page.read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if match is None:
        raise SystemExit("no CSRF token on the login page")
    form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)})
    client.conn.request(
        "POST",
        "/login/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken'].value}",
        },
    )
    answer = client.conn.getresponse()
    answer.read()
    session = _cookies(answer.headers.get_all("Set-Cookie") or [])
    if answer.status != 302 or "sessionid" not in session:
        raise SystemExit(f"login failed ({answer.status})")
    return {"Cookie": f"sessionid={session['sessionid'].value}"}


def latencies(client: Client, paths: list[str], before: Callable[[], object] | None = None) -> list[float]:
    times = []
    for path in paths:
        if before is not None:
            before()
        started = time.perf_counter()
        status, body = client.request("GET", path)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
    return times


def recompute(env: dict[str, str], processes: int) -> tuple[float, float]:
    """Seconds for recompute_scores, and the peak RSS (MiB) of its largest process."""
    started = time.perf_counter()
    print(manage(env, "recompute_scores", "--processes", str(processes), "--no-progress").strip())
    elapsed = time.perf_counter() - started
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def aggregate_reference(url: str) -> float:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        cur.execute(
            "SELECT customer_id, count(*), sum(valence * intensity), min(valence), max(occurred_at) "
            "FROM interactions_interaction GROUP BY customer_id"
        )
        rows = cur.fetchall()
        return len(rows) / (time.perf_counter() - started)


# How a drain finds the customers whose memory is behind (memory.services.stale_customer_ids,
# its history part), and the join on the memories it replaced.
BEHIND_NOW = "SELECT id FROM customers_customer WHERE history_version > memory_version ORDER BY id LIMIT 200"
BEHIND_BEFORE = (
    "SELECT c.id FROM customers_customer c LEFT JOIN memory_customermemory m ON m.customer_id = c.id "
    "WHERE (c.history_version > 0 AND m.customer_id IS NULL) OR c.history_version > m.history_version "
    "ORDER BY c.id LIMIT 200"
)


def query_ms(url: str, sql: str, repeats: int = 20) -> float:
    """Median milliseconds of one query, run `repeats` times."""
    times = []
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for _ in range(repeats):
            started = time.perf_counter()
            cur.execute(sql)
            cur.fetchall()
            times.append(time.perf_counter() - started)
    return median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rememberly_scale")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--skip-recompute", action="store_true")
    args = parser.parse_args()
    url = f"{SERVER}/{args.database}"
    env = production_env(url)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        customers = cur.fetchone()[0]
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'interactions_interaction'")
        touches = cur.fetchone()[0]
        cur.execute("SELECT id FROM customers_customer ORDER BY random() LIMIT %s", [args.requests])
        sample = [row[0] for row in cur.fetchall()]
    if customers < 1000:
        raise SystemExit(f"{args.database} has {customers} customers: seed it first (see the docstring).")
    print(f"{args.database}: {customers:,} customers, about {touches:,} touchpoints")
    manage(env, "collectstatic", "--noinput")
    password = secrets.token_urlsafe(16)
    manage(env, "shell", "-c", CREATE_MANAGER.format(password=password))
    key = manage(env, "issue_api_key", "bench-read", "--scope", "read").strip()
    rows: list[tuple[str, str, str, str]] = []
    size = f"{customers // 1000}k customers / {touches / 1e6:.1f}M touchpoints"

    if not args.skip_recompute:
        print(f"5. recompute_scores --processes {args.processes} over {customers:,} customers ...")
        seconds, rss = recompute(env, args.processes)
        reference = aggregate_reference(url)
        rate = customers / seconds
        rows.append((f"5. full recompute, {size}", ">= 0.33x reference",
                     f"{rate:,.0f} customers/s ({rate / reference:.3f}x)",
                     f"SQL GROUP BY customer: {reference:,.0f} customers/s"))  # fmt: skip
        rows.append(("6. peak RSS, recompute process", "-", f"{rss:.0f} MiB", f"{args.processes} processes"))
    # Every drain asks this, and after a recompute no memory is behind: the whole scan.
    rows.append((f"drain: find the memories behind (none is), {size}", "-",
                 f"{query_ms(url, BEHIND_NOW):.1f} ms",
                 f"the join on the memories it replaced: {query_ms(url, BEHIND_BEFORE):.0f} ms"))  # fmt: skip
    with running_stack(url, web_workers=2, worker_processes=0) as stack:
        session = Client(stack.port, login(stack.port, "bench-manager", password))
        api = Client(stack.port, {"Authorization": f"Api-Key {key}"})
        rng = random.Random(1)
        periods = [f"/dashboard/?period={rng.choice([30, 90, 365])}" for _ in sample]
        by_score = "/api/v1/customers/?ordering=memory_score&band=at_risk"
        empty_cache = partial(stack.redis.command, "FLUSHALL")
        pages: dict[str, tuple[Client, list[str], Callable[[], object] | None]] = {
            "customer page": (session, [f"/customers/{pk}/" for pk in sample], None),
            "dashboard (period totals cached)": (session, periods, None),
            "dashboard, cache emptied before each": (session, periods, empty_cache),
            "API customers at risk by score": (api, [by_score] * len(sample), None),
            "API a customer's touchpoints": (api, [f"/api/v1/interactions/?customer={pk}" for pk in sample], None),
        }
        for name, (client, paths, before) in pages.items():
            latencies(client, paths[:10])  # warm up the processes' caches and connections
            times = latencies(client, paths, before)
            print(f"  {name}: p50 {median(times) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms")
            rows.append((f"4. {name}, {size}", "p95 < 150 ms",
                         f"p50 {median(times) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms",
                         f"{args.requests} sequential requests"))  # fmt: skip
        web_rss = stack.services[0].peak_rss_mib()
    rows.append(("6. peak RSS, web process (page load)", "-", f"{web_rss:.0f} MiB", "gunicorn, 2 workers"))

    print_table(rows)


if __name__ == "__main__":
    main()
