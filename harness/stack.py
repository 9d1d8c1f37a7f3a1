"""Real processes for fault, concurrency and backup tests and for the benchmarks: a Redis
of their own (so it can be stopped without disturbing anything else), gunicorn and Celery
workers and beat, against one database. No pytest here: bench/ uses it too, and bench/ does not import tests/.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection

PROJECT = Path(__file__).resolve().parent.parent  # the repository root
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def on_a_free_port(launch: Callable[[int], T], attempts: int = 3) -> T:
    """Start a server on a port the OS just said was free. Another process can take the
    port between the probe and the server's bind; the server then exits saying the
    address is in use, and it is started again on a new port instead of failing the test."""
    for _ in range(attempts - 1):
        try:
            return launch(free_port())
        except StackError as exc:
            if "in use" not in str(exc):
                raise
    return launch(free_port())


def process_database_url() -> str:
    """The database this test runs against, as a URL other processes can use."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class StackError(AssertionError):
    """A process did not start or a condition did not come true in time."""


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_for_none_left(left: Callable[[], int], *, timeout: float, stall: float, what: str) -> None:
    """Wait until `left()` is 0. The deadline follows the work: `timeout` at first, then
    pushed back while the count keeps falling, so a slow machine that is getting there is
    not failed; `stall` seconds without progress after the deadline end the wait."""
    deadline = time.monotonic() + timeout
    best = left()
    while best:
        time.sleep(0.2)
        now_left = left()
        if now_left < best:
            best = now_left
            deadline = max(deadline, time.monotonic() + stall)
        if time.monotonic() > deadline:
            raise StackError(f"timed out waiting for {what}: {best} left, no progress for {stall} s")


class Service:
    """A child process whose output is kept, to wait on and to show when a test fails."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: Path = PROJECT) -> None:
        self.name = name
        self.output: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so a signal reaches the whole process group
        )
        stream = self.process.stdout
        assert stream is not None
        threading.Thread(target=lambda: self.output.extend(iter(stream.readline, "")), daemon=True).start()

    def log(self) -> str:
        return "".join(self.output[-200:])

    def wait_for_output(self, text: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StackError(f"{self.name} never printed {text!r}:\n{self.log()}")
            time.sleep(0.1)

    def peak_rss_mib(self) -> float:
        """The largest peak resident memory (VmHWM) of any live process in this group."""
        peak = 0
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                if os.getpgid(int(status.parent.name)) != self.process.pid:
                    continue
                line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            except (OSError, StopIteration, ProcessLookupError):
                continue
            peak = max(peak, int(line.split()[1]))
        return peak / 1024

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs, nothing is acknowledged."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisServer:
    """A throwaway redis-server on a free port, nothing persisted."""

    def __init__(self) -> None:
        self.port = 0  # chosen by start()
        self.service: Service | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        def launch(port: int) -> Service:
            self.port = port
            command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            service = Service("redis", command, dict(os.environ))
            service.wait_for_output("Ready to accept connections", timeout=20)
            return service

        # A restart (the broker-outage tests) comes back on the same port: the stack's
        # processes were told that one.
        self.service = launch(self.port) if self.port else on_a_free_port(launch)

    def stop(self) -> None:
        if self.service is not None:
            self.service.kill()
            self.service = None

    def command(self, *words: str) -> str:
        """One Redis command over the wire protocol; the raw first line of the answer."""
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(request.encode())
            return sock.recv(64).decode().strip()

    def queued(self, queue: str = "celery") -> int:
        return int(self.command("LLEN", queue).lstrip(":"))


class Stack:
    """gunicorn + Celery worker (+ beat) of this project against one database and Redis."""

    def __init__(self, redis: RedisServer, database_url: str | None = None, **settings: str) -> None:
        self.redis = redis
        self.port = 0  # chosen by start_web()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url or process_database_url(),
            "REDIS_URL": redis.url(),
            "DEBUG": "1",
            "API_RATE_LIMIT": "1000000/min",
            "LOG_LEVEL": "INFO",
            **settings,
        }
        self.services: list[Service] = []

    def _start(self, name: str, *args: str, ready: str) -> Service:
        service = Service(name, [sys.executable, "-m", *args], self.env)
        self.services.append(service)
        service.wait_for_output(ready)
        return service

    def start_web(self, workers: int = 2) -> Service:
        def launch(port: int) -> Service:
            self.port = port
            return self._start(
                "gunicorn",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
                ready="Booting worker",
            )

        return on_a_free_port(launch)

    def start_worker(self, *, pool: str = "solo", concurrency: int = 1) -> Service:
        return self._start(
            "celery worker",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            ready="ready.",
        )

    def start_beat(self) -> Service:
        # A schedule file of this stack's own, removed with it (stop()), never left in /tmp.
        self._scratch = tempfile.mkdtemp(prefix="rememberly-beat-")
        schedule = os.path.join(self._scratch, "celerybeat-schedule")
        return self._start(
            "celery beat",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            schedule,
            ready="beat: Starting",
        )

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        if getattr(self, "_scratch", None):
            shutil.rmtree(self._scratch, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.log()}" for s in self.services)

    def request(self, method: str, path: str, *, key: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(
                method,
                path,
                body=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        return response.status, json.loads(raw) if raw.startswith((b"{", b"[")) else raw
