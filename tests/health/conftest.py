"""Fixtures of the health tests: a clean runner per test and settings helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from experio_platform.health import runner as runner_module
from tests.health import helpers


@pytest.fixture(autouse=True)
def fresh_runner() -> Iterator[None]:
    runner_module.reset_runner()
    helpers.calls.clear()
    helpers.FLAGS.clear()
    helpers.release.clear()
    yield
    helpers.release.set()
    # Let probes still running finish inside the test, so they do not log into a closed capture.
    current = runner_module._runner
    if current is not None:
        from concurrent.futures import wait

        wait([s.future for s in current._slots.values() if s.future is not None], timeout=3)
    runner_module.reset_runner()


@pytest.fixture
def configure(settings: Any) -> Callable[..., dict[str, Any]]:
    """Set EXPERIO_PLATFORM keys for this test (merged over the test settings' own)."""
    base = dict(settings.EXPERIO_PLATFORM)

    def apply(**keys: Any) -> dict[str, Any]:
        merged = {**base, **keys}
        settings.EXPERIO_PLATFORM = merged
        return merged

    return apply


def only_checks(*items: Any, **keys: Any) -> dict[str, Any]:
    """EXPERIO_PLATFORM keys that run exactly ``items`` (host checks by dotted path)."""
    return {"HEALTH_CHECKS": list(items), "HEALTH_CACHE_TTL": 0, **keys}


def shared(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: source .run/test/env.sh (make services-up)")
    return value


# ---- private servers (session-scoped; fault tests stop and start them, then leave them up) ----
# A unique password for every dependency; no response, log line or command output may carry it.
CANARY = "Canary" + __import__("uuid").uuid4().hex


@pytest.fixture(scope="session")
def private_redis() -> Iterator[Any]:
    from tests.support.servers import PrivateRedis

    server = PrivateRedis(password=CANARY).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[Any]:
    from tests.support.servers import PrivatePostgres

    server = PrivatePostgres(password=CANARY).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[Any]:
    from tests.support.servers import PrivateRabbitMQ

    server = PrivateRabbitMQ(user="health", password=CANARY).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def private_falkordb() -> Iterator[Any]:
    from tests.support.servers import PrivateRedis

    server = PrivateRedis(password=CANARY, falkordb=True).start()
    yield server
    server.cleanup()


def graph_available() -> bool:
    try:
        from experio_platform.graph import get_graph  # noqa: F401
    except ImportError:
        return False
    return True
