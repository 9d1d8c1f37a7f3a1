"""What every benchmark shares: a scratch database, the real processes (harness/stack.py,
which the fault tests use too), HTTP clients and the results table."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.stack import RedisServer, Stack  # noqa: E402 - after the path is set

SERVER = "postgres://postgres@127.0.0.1:5432"


def production_env(database_url: str) -> dict[str, str]:
    """Settings as in production (DEBUG off), on plain HTTP on 127.0.0.1."""
    return {
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "API_RATE_LIMIT": "100000000/min",
        "LOG_LEVEL": "WARNING",
        # Production settings plus the reference views bench/api.py compares with.
        "DJANGO_SETTINGS_MODULE": "bench.settings",
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def fresh_database(name: str) -> str:
    """Drop and create a scratch database, migrated; returns its URL."""
    admin = psycopg2.connect(f"{SERVER}/postgres")
    admin.autocommit = True  # DROP/CREATE DATABASE cannot run in a transaction
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    url = f"{SERVER}/{name}"
    env = production_env(url)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    return url


@contextmanager
def running_stack(database_url: str, *, web_workers: int, worker_processes: int) -> Iterator[Stack]:
    """gunicorn and (if worker_processes) a Celery worker, with a Redis of their own."""
    redis = RedisServer()
    redis.start()
    env = production_env(database_url)
    stack = Stack(redis, env.pop("DATABASE_URL"), **env)
    try:
        stack.start_web(workers=web_workers)
        if worker_processes:
            stack.start_worker(pool="prefork", concurrency=worker_processes)
        yield stack
    finally:
        stack.stop()
        redis.stop()


class Client:
    """One keep-alive HTTP connection to the stack."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = headers or {}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def closed_loop(clients: int, seconds: float, make: Callable[[], Callable[[int], None]]) -> float:
    """`clients` threads each run their own request function back to back for `seconds`;
    returns requests per second. make() builds one thread's function (its connection)."""
    counts = [0] * clients
    stop = time.monotonic() + seconds
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            call = make()
            n = 0
            while time.monotonic() < stop:
                call(index * 10_000_000 + n)
                n += 1
            counts[index] = n
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"benchmark client failed: {errors[0]!r}")
    return sum(counts) / (time.monotonic() - started)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """measure | target | figure | reference, as a Markdown table (pasted into bench/README.md)."""
    header = ("measure", "target", "figure", "reference (same run)")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
