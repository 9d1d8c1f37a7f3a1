"""The process harness the fault and benchmark runs stand on (harness/stack.py)."""

import itertools
import socket
import time

import pytest

from harness import stack


def test_a_server_whose_port_was_taken_after_the_probe_starts_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """free_port() probes and releases a port; another process may bind it before the
    server does. The harness then starts the server again on a new port."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        probes = itertools.count()
        real = stack.free_port
        monkeypatch.setattr(stack, "free_port", lambda: taken if next(probes) == 0 else real())
        redis = stack.RedisServer()
        redis.start()
        try:
            assert redis.port != taken
            assert redis.command("PING") == "+PONG"
            # A restart keeps the port the stack's processes were given.
            port = redis.port
            redis.stop()
            redis.start()
            assert redis.port == port
            assert redis.command("PING") == "+PONG"
        finally:
            redis.stop()


def test_a_wait_on_work_outlasts_its_first_deadline_while_the_work_progresses() -> None:
    remaining = iter([5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0])
    started = time.monotonic()
    stack.wait_for_none_left(lambda: next(remaining), timeout=0.6, stall=1.0, what="the work")
    assert time.monotonic() - started > 0.6  # it went on past the first deadline


def test_a_wait_on_work_that_stalls_fails_saying_how_much_is_left() -> None:
    with pytest.raises(stack.StackError, match=r"the work: 3 left, no progress for 0\.5 s"):
        stack.wait_for_none_left(lambda: 3, timeout=0.2, stall=0.5, what="the work")
