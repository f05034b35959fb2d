"""Host checks named by dotted path in the tests (plain functions, sync and async).

They are real host checks (the public extension point), not mocks of a service: the built-in
checks are exercised against real servers in the other test modules.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from experio_platform.health.base import Probe

calls: Counter[str] = Counter()
release = threading.Event()  # set it to free every hung check (teardown does)


def ok(timeout: float) -> None:
    calls["ok"] += 1


def fail(timeout: float) -> Probe:
    calls["fail"] += 1
    return Probe(ok=False, reason="error", error="boom at db.internal:5432", version="9.9")


def raises(timeout: float) -> None:
    raise ConnectionError("refused by 10.0.0.9:6379")


def slow(timeout: float, seconds: float = 0.2) -> None:
    calls["slow"] += 1
    time.sleep(seconds)


def hang(timeout: float) -> None:
    calls["hang"] += 1
    release.wait(30)


def flag(timeout: float, name: str = "flag") -> bool:
    return not FLAGS.get(name, False)


FLAGS: dict[str, bool] = {}


async def async_ok(timeout: float) -> None:
    calls["async_ok"] += 1
    await asyncio.sleep(0.01)


async def async_hang(timeout: float) -> None:
    calls["async_hang"] += 1
    await asyncio.sleep(30)


def leaky(timeout: float, url: str = "", password: str = "") -> None:
    """A host check whose error text carries credentials in the shapes drivers use."""
    raise ConnectionError(f"cannot reach {url} (password={password}); auth {password} refused")
