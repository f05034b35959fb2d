"""health(): never raises, honours its timeout (connect + read), sanitised errors."""

from __future__ import annotations

import time

import pytest

from experio_platform.graph import get_graph
from experio_platform.graph.base import GraphConfig
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.neo4j import Neo4jProvider
from experio_platform.graph.types import GraphHealth
from tests.graph.conftest import FAST

PROVIDERS = {"falkordb": (FalkorDBProvider, "redis"), "neo4j": (Neo4jProvider, "bolt")}


def _provider(name: str, uri: str, password: str | None = None):
    cls, _ = PROVIDERS[name]
    return cls(GraphConfig(name, uri, user="u" if password else None, password=password, **FAST))


def test_health__real_falkordb_ok(falkor: FalkorDBProvider) -> None:
    health = falkor.health(1.0)
    assert isinstance(health, GraphHealth)
    assert health.ok and health.error is None
    assert health.server_version and health.server_version.startswith("FalkorDB 4.")
    assert health.latency_ms > 0
    # A probe must not create the graph (a read on a missing graph would).
    assert falkor.graph_name not in falkor.command("GRAPH.LIST")


def test_health__neo4j_driver_over_bolt_ok(bolt: Neo4jProvider) -> None:
    # FalkorDB's Bolt endpoint drops the first fresh connection after any client closed one
    # (seen with 4.16.3: every other new connection's handshake hangs), so the first probe
    # of a new probe driver may time out; the next one must work, and later ones reuse it.
    first = bolt.health(2.0)
    if not first.ok:
        assert "handshake" in (first.error or ""), first.error
    for _ in range(3):  # the probe driver is kept: repeated probes reuse its connection
        health = bolt.health(2.0)
        assert health.ok, health.error
        assert health.server_version and health.server_version.startswith("Neo4j/")


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_health__closed_port_fails_fast(name: str, closed_port: int) -> None:
    scheme = PROVIDERS[name][1]
    # Neo4j takes credentials only through auth; FalkorDB also from the URI's userinfo.
    userinfo = "u:s3cr3t-pw@" if name == "falkordb" else ""
    provider = _provider(name, f"{scheme}://{userinfo}127.0.0.1:{closed_port}", "s3cr3t-pw")
    started = time.monotonic()
    health = provider.health(0.5)
    assert time.monotonic() - started < 0.5
    assert not health.ok and health.server_version is None
    assert health.error and "s3cr3t-pw" not in health.error and "cannot reach" in health.error


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_health__server_that_never_answers_times_out(name: str, blackhole: int) -> None:
    scheme = PROVIDERS[name][1]
    provider = _provider(name, f"{scheme}://127.0.0.1:{blackhole}")
    started = time.monotonic()
    health = provider.health(0.4)
    elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 1.0, elapsed
    assert not health.ok and health.error
    provider.close()


@pytest.mark.django_db
def test_get_graph__no_io_and_name(settings, closed_port: int) -> None:
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "neo4j",
            "NEO4J_URI": f"bolt://127.0.0.1:{closed_port}",
        }
    }
    graph = get_graph()  # the port is closed: building must not connect
    assert graph.name == "neo4j"
    assert graph._client is None
    assert get_graph() is graph
    assert not graph.health(0.3).ok


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_run__hung_server_fails_within_its_timeouts(name: str, blackhole: int) -> None:
    from experio_platform.graph.exceptions import GraphTimeout, GraphUnavailable

    scheme = PROVIDERS[name][1]
    cls = PROVIDERS[name][0]
    fast = {**FAST, "connect_timeout": 0.5, "query_timeout": 0.3, "retry_attempts": 1}
    provider = cls(GraphConfig(name, f"{scheme}://127.0.0.1:{blackhole}", **fast))
    started = time.monotonic()
    with pytest.raises((GraphTimeout, GraphUnavailable)):
        provider.run("RETURN 1", read_only=True)
    # Neo4j: the handshake deadline (connect timeout); FalkorDB: read timeout = query + 1 s.
    assert time.monotonic() - started < 1.6
    provider.close()


def test_run__server_side_query_timeout_is_graph_timeout(falkor: FalkorDBProvider) -> None:
    from experio_platform.graph.exceptions import GraphTimeout

    falkor.run("RETURN 1")
    with pytest.raises(GraphTimeout) as info:
        falkor.run("UNWIND range(1, 20000000) AS x RETURN count(x)", read_only=True, timeout=0.05)
    assert info.value.__cause__ is not None
