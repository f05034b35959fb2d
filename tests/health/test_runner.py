"""No pile-ups: single-flight, TTL cache, bounded pool, flat threads/connections under load."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client

from experio_platform.health.runner import get_runner
from tests.health import helpers
from tests.health.conftest import only_checks, shared
from tests.support.proxy import FaultProxy

H = "tests.health.helpers."


def test_single_flight__concurrent_polls_share_one_probe(configure) -> None:
    configure(**only_checks((H + "slow", {"seconds": 0.3}), HEALTH_CACHE_TTL=0))
    codes: list[int] = []

    def poll() -> None:
        codes.append(Client().get("/health/").status_code)

    threads = [threading.Thread(target=poll) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert codes == [200] * 16
    assert helpers.calls["slow"] == 1


def test_ttl_cache__one_probe_per_ttl(configure, client: Client) -> None:
    # The TTL is far longer than 20 polls take even on a loaded CI machine (a 0.3 s TTL
    # against a 0.25 s polling loop once flaked there); expiry is then made to happen by
    # ageing the stored result, so nothing here depends on how fast the machine is.
    configure(**only_checks(H + "ok", HEALTH_CACHE_TTL=30))
    for _ in range(20):
        data = json.loads(client.get("/health/").content)
    assert helpers.calls["ok"] == 1
    assert data["checks"]["ok"]["age_s"] > 0  # served from the cache, with its age
    get_runner()._slots["ok"].result_at -= 29.0  # still younger than the TTL: cached
    client.get("/health/")
    assert helpers.calls["ok"] == 1
    get_runner()._slots["ok"].result_at -= 1.5  # now older than the TTL: probed again
    client.get("/health/")
    assert helpers.calls["ok"] == 2
    configure(**only_checks(H + "ok", HEALTH_CACHE_TTL=0))  # 0 disables the cache
    for _ in range(5):
        client.get("/health/")
    assert helpers.calls["ok"] == 2 + 5


def test_recovery__within_one_ttl(configure, client: Client) -> None:
    configure(**only_checks((H + "flag", {"name": "dep"}), HEALTH_CACHE_TTL=0.2))
    assert client.get("/health/").status_code == 200
    helpers.FLAGS["dep"] = True  # the dependency breaks
    time.sleep(0.21)
    assert client.get("/health/").status_code == 503
    helpers.FLAGS["dep"] = False  # and comes back, no restart of anything
    time.sleep(0.21)
    assert client.get("/health/").status_code == 200


def _pg_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_pile_up__1000_polls_against_a_hung_dependency(configure, settings) -> None:
    """Redis hangs (accepts, never answers); Postgres is real. 1,000 polls arrive from 100
    concurrent pollers with the cache OFF, so without single-flight every poll would start
    its own probe. Afterwards the process has no more threads and Postgres no more
    connections than after the first few polls, and the hung Redis saw about one connection
    per probe timeout, not one per poll."""
    url = shared("REDIS_URL")
    parts = urlsplit(url)
    with FaultProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        proxy.mode = "hang"
        settings.REDIS_URL = f"redis://127.0.0.1:{proxy.port}/0"
        configure(
            HEALTH_CHECKS=["postgres", "redis"],
            HEALTH_CHECK_TIMEOUT=0.3,
            HEALTH_DEADLINE=0.5,
            HEALTH_CACHE_TTL=0,  # every poll would probe, but for single-flight
        )
        warm = Client()
        for _ in range(5):
            warm.get("/health/")
        threads_before, conns_before = threading.active_count(), _pg_connections()
        accepted_before = proxy.accepted
        codes: list[int] = []

        def poller() -> None:
            client = Client()
            for _ in range(10):
                codes.append(client.get("/health/").status_code)

        pollers = [threading.Thread(target=poller) for _ in range(100)]
        started = time.monotonic()
        for t in pollers:
            t.start()
        for t in pollers:
            t.join(60)
        elapsed = time.monotonic() - started
        threads_after, conns_after = threading.active_count(), _pg_connections()
        runner = get_runner()
        assert len(codes) == 1000 and set(codes) == {503}, (len(codes), set(codes))
        assert threads_after <= threads_before + 1, (threads_before, threads_after)
        assert conns_after <= conns_before + 1, (conns_before, conns_after)
        # Single-flight: one redis probe at a time, each held ~its 0.3 s socket timeout.
        redis_conns = proxy.accepted - accepted_before
        assert redis_conns <= elapsed / 0.3 + 5, (redis_conns, elapsed)
        assert runner.probes_started["postgres"] >= 5  # Postgres was really probed throughout
        assert elapsed < 20


def test_asgi__acollect_never_blocks_the_loop(configure) -> None:
    configure(
        **only_checks(H + "ok", {"name": "stuck", "check": H + "hang", "timeout": 0.3}),
        HEALTH_DEADLINE=0.5,
    )
    runner = get_runner()

    async def main() -> tuple[str, int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        started = time.monotonic()
        report = await runner.acollect(deadline=0.5)
        elapsed = time.monotonic() - started
        task.cancel()
        return report.status, ticks, elapsed

    status, ticks, elapsed = asyncio.run(main())
    assert status == "unhealthy"
    assert 0.25 <= elapsed < 0.5
    assert ticks >= 10  # the loop kept running while the check hung (~25 ticks expected)


def test_start_order__slowest_last_time_first(configure) -> None:
    """Longest-processing-time-first: the check that took longest starts first next time, so
    the others' set-up overlaps its wait (the report keeps the configured order)."""
    configure(**only_checks(H + "ok", {"name": "slow", "check": H + "slow"}))
    runner = get_runner()
    assert runner._start_order() == [0, 1]  # no history: the configured order
    report = runner.collect(deadline=1.0)
    assert [r.name for r in report.results] == ["ok", "slow"]
    assert runner._start_order() == [1, 0]
    assert [r.name for r in runner.collect(deadline=1.0).results] == ["ok", "slow"]
