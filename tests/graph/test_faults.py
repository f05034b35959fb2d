"""Fault tests on a PRIVATE FalkorDB (never the shared one): down at start, killed mid-run
and restarted, deferred writes replayed with nothing lost or duplicated.

Both providers: the native FalkorDB client, and the neo4j driver over the same server's Bolt
endpoint. Timeouts are tuned down (connect 1 s, breaker 1 s) to keep the suite fast.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from experio_platform.graph.base import BaseGraphProvider
from experio_platform.graph.exceptions import GraphUnavailable
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.neo4j import Neo4jProvider
from experio_platform.graph.outbox import replay, write_or_defer
from tests.graph.conftest import bolt_config, falkor_config
from tests.support.servers import PrivateRedis

pytestmark = pytest.mark.slow

MERGE = "MERGE (n:GtFault {uid: $uid}) SET n.seq = $seq"


@pytest.fixture
def server() -> Iterator[PrivateRedis]:
    # Not started: the first test begins with the graph down. persist: a graceful stop keeps
    # the data, like a graph scaled to zero and back.
    srv = PrivateRedis(bolt=True, persist=True)
    yield srv
    srv.cleanup()


def _providers(srv: PrivateRedis) -> list[BaseGraphProvider]:
    # The Bolt endpoint always serves the graph "falkordb": the native client uses it too, so
    # both see the same data.
    return [
        FalkorDBProvider(falkor_config(srv.url, "falkordb", breaker_cooldown=1.0)),
        Neo4jProvider(bolt_config(srv.bolt_url, breaker_cooldown=1.0)),
    ]


def _eventually(provider: BaseGraphProvider, timeout: float = 8.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return provider.run("RETURN 7 AS x", read_only=True).value()
        except GraphUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("which", [0, 1], ids=["falkordb", "neo4j-bolt"])
def test_fault__down_at_start_then_up_without_restart(server: PrivateRedis, which: int) -> None:
    provider = _providers(server)[which]  # the server is not running yet
    started = time.monotonic()
    with pytest.raises(GraphUnavailable) as info:
        provider.run("RETURN 1", read_only=True)
    assert time.monotonic() - started < 1.5  # refused connections fail at once
    assert info.value.__cause__ is not None
    assert not provider.health(0.5).ok
    # The breaker now fails fast without touching the network.
    started = time.monotonic()
    with pytest.raises(GraphUnavailable, match="circuit open"):
        provider.run("RETURN 1", read_only=True)
    # "circuit open" proves the network was not touched; the bound only says "no wait" with
    # room for a loaded CI machine (the connect timeout it skips is seconds).
    assert time.monotonic() - started < 0.5
    server.start()
    assert _eventually(provider) == 7  # same instance, no process restart
    provider.close()


@pytest.mark.parametrize("which", [0, 1], ids=["falkordb", "neo4j-bolt"])
def test_fault__killed_mid_run_then_restarted(server: PrivateRedis, which: int) -> None:
    server.start()
    provider = _providers(server)[which]
    assert _eventually(provider) == 7
    server.stop()
    started = time.monotonic()
    with pytest.raises(GraphUnavailable):
        provider.run("RETURN 1", read_only=True)
    # Within the connect timeout (1 s) plus bounded retries, never the driver's 30 s.
    assert time.monotonic() - started < 3.0
    server.start()
    assert _eventually(provider) == 7
    provider.close()


@pytest.mark.django_db
@pytest.mark.parametrize("which", [0, 1], ids=["falkordb", "neo4j-bolt"])
def test_fault__writes_during_outage_replayed_once(server: PrivateRedis, which: int) -> None:
    server.start()
    provider = _providers(server)[which]
    assert _eventually(provider) == 7
    outcomes = []
    for seq in range(30):
        if seq == 10:
            server.stop(graceful=True)  # scaled to zero: its data comes back on start
        if seq == 20:
            server.start()
        # uids repeat (seq % 25) so the last write of a uid must win after replay
        outcomes.append(write_or_defer(MERGE, {"uid": f"u{seq % 25}", "seq": seq}, graph=provider))
    deferred = [o for o in outcomes if o.deferred]
    assert 10 <= len(deferred) <= 20 and all(not o.deferred for o in outcomes[:10])

    while replay(graph=provider).remaining:
        time.sleep(0.2)
    rows = provider.run(
        "MATCH (n:GtFault) RETURN n.uid AS uid, n.seq AS seq", read_only=True
    ).records
    assert len(rows) == 25  # nothing duplicated (MERGE on uid), nothing lost
    assert {r["uid"]: r["seq"] for r in rows} == {f"u{s % 25}": s for s in range(30)}
    provider.run("MATCH (n:GtFault) DELETE n")
    provider.close()


@pytest.mark.django_db
def test_fault__app_starts_and_checks_pass_with_graph_down(settings, closed_port: int) -> None:
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": f"redis://127.0.0.1:{closed_port}",
        }
    }
    from django.core.management.base import SystemCheckError

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    try:  # other concerns may report errors for this bare config; none is the graph's
        call_command("check", stdout=out, stderr=err)
        text = out.getvalue() + err.getvalue()
    except SystemCheckError as exc:
        text = str(exc)
    assert "experio_platform.E05" not in text and "experio_platform.W05" not in text
    assert time.monotonic() - started < 5  # no graph connection attempted
