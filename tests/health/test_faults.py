"""Real stop/start of each dependency mid-test (private instances on their own ports).

/health/ must move to the right status within one TTL (plus one probe) of the change and
recover without restarting the app. Hung/closed-port faults through the TCP fault proxy are
in test_checks_real.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.test import Client

from tests.health.conftest import graph_available
from tests.support.net import wait_until

pytestmark = pytest.mark.django_db
TTL = 0.3
TIMEOUT = 0.5
FAST = {
    "HEALTH_CACHE_TTL": TTL,
    "HEALTH_CHECK_TIMEOUT": TIMEOUT,
    "HEALTH_DEADLINE": 1.0,
    "HEALTH_DETAIL": "always",
}


def status(client: Client) -> int:
    return client.get("/health/").status_code


def move_to(client: Client, code: int | str, *, within: float) -> float:
    """Poll until /health/ answers ``code`` (HTTP code, or the body's status word); return how
    long after the call it took."""

    def reached() -> bool:
        if isinstance(code, int):
            return status(client) == code
        return client.get("/health/").json()["status"] == code

    started = time.monotonic()
    wait_until(reached, timeout=within + 5, interval=0.02, what=code)
    return time.monotonic() - started


def fault_cycle(client: Client, stop: Callable[[], None], start: Callable[[], None]) -> None:
    assert status(client) == 200
    stop()
    # The change is seen by the first probe after the cached result expires: <= TTL + 1 probe.
    assert move_to(client, 503, within=TTL + TIMEOUT) <= TTL + TIMEOUT + 0.3
    start()
    assert move_to(client, 200, within=TTL + TIMEOUT) <= TTL + TIMEOUT + 0.3


def test_fault__redis_stop_start(configure, settings, client: Client, private_redis) -> None:
    settings.REDIS_URL = private_redis.url
    configure(HEALTH_CHECKS=["redis"], **FAST)
    fault_cycle(client, private_redis.stop, private_redis.start)


def test_fault__postgres_stop_start(configure, client: Client, private_postgres) -> None:
    configure(
        HEALTH_CHECKS=[{"name": "postgres", "options": {"database": private_postgres.database()}}],
        **FAST,
    )
    fault_cycle(client, private_postgres.stop, private_postgres.start)


def test_fault__rabbitmq_stop_start(configure, settings, client: Client, private_rabbitmq) -> None:
    settings.CELERY_BROKER_URL = private_rabbitmq.url
    configure(HEALTH_CHECKS=["rabbitmq"], **FAST)
    fault_cycle(client, private_rabbitmq.stop_app, private_rabbitmq.start_app)


@pytest.mark.skipif(not graph_available(), reason="experio_platform.graph.get_graph not landed")
def test_fault__falkordb_stop_start(configure, client: Client, private_falkordb) -> None:
    overrides = {
        "GRAPH_PROVIDER": "falkordb",
        "FALKOR_URI": f"redis://127.0.0.1:{private_falkordb.port}",
        "FALKOR_PASSWORD": private_falkordb.password,
    }
    configure(
        HEALTH_CHECKS=["graph", "tests.health.helpers.ok"], CONFIG_OVERRIDES=overrides, **FAST
    )
    data = client.get("/health/").json()
    assert data["checks"]["falkordb"]["status"] == "healthy", data
    # graph is non-critical: a stopped FalkorDB degrades (200) instead of failing.
    private_falkordb.stop()
    assert move_to(client, "degraded", within=TTL + TIMEOUT) <= TTL + TIMEOUT + 0.3
    private_falkordb.start()
    # The provider's circuit breaker does not delay it: health() bypasses the breaker.
    assert move_to(client, "healthy", within=TTL + TIMEOUT) <= TTL + TIMEOUT + 0.3
