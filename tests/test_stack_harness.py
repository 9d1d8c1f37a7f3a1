"""The process harness the fault and benchmark runs stand on (tests/stack.py)."""

import itertools
import socket

import pytest

from tests import stack


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
            assert redis.port != taken and redis.command("PING") == "+PONG"
            # A restart keeps the port the stack's processes were given.
            port = redis.port
            redis.stop()
            redis.start()
            assert redis.port == port and redis.command("PING") == "+PONG"
        finally:
            redis.stop()
