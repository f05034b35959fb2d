"""Ports and waiting for them."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port(below: int | None = None) -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago (optionally < ``below``)."""
    if below is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    import random

    for _ in range(200):
        port = random.randrange(20000, below)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {below}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(
    port: int, *, timeout: float = 20.0, host: str = "127.0.0.1", up: bool = True
) -> None:
    """Wait until ``port`` accepts connections (``up=False``: until it refuses them)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port_open(port, host) == up:
            return
        time.sleep(0.05)
    state = "open" if up else "close"
    raise TimeoutError(f"{host}:{port} did not {state} within {timeout} s")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: object = "it",
) -> T:
    """Poll ``predicate()`` until it returns a truthy value; return that value."""
    end = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < end:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout} s (last: {last!r})")
