"""Fixtures of the graph tests: real FalkorDB (shared, native client), a private FalkorDB with
its Bolt endpoint for the Neo4j driver path, real Neo4j when NEO4J_TEST_URI is set.

Isolation: native-client tests use a graph named ``graph_test_<random>`` on the shared server,
deleted afterwards. The Bolt endpoint always uses the graph ``falkordb``, so Bolt tests run
against a PRIVATE FalkorDB (started once per session) and empty that graph after each test.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from experio_platform.graph.base import BaseGraphProvider, GraphConfig
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.neo4j import Neo4jProvider
from tests.support.servers import PrivateRedis

FAST = {
    "connect_timeout": 1.0,
    "query_timeout": 5.0,
    "retry_attempts": 2,
    "retry_base_delay": 0.02,
    "retry_max_delay": 0.1,
    "breaker_cooldown": 1.0,
}


def falkor_uri() -> str:
    uri = os.environ.get("EXPERIO_TEST_FALKOR_URI")
    if not uri:
        pytest.skip("EXPERIO_TEST_FALKOR_URI is not set: run `. .run/test/env.sh` first")
    return uri


def falkor_config(uri: str, graph: str, **overrides: object) -> GraphConfig:
    return GraphConfig("falkordb", uri, database=graph, **{**FAST, **overrides})  # type: ignore[arg-type]


def bolt_config(uri: str, **overrides: object) -> GraphConfig:
    return GraphConfig("neo4j", uri, dialect="neo4j-compat", **{**FAST, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def graph_name() -> str:
    return f"graph_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def falkor(graph_name: str) -> Iterator[FalkorDBProvider]:
    provider = FalkorDBProvider(falkor_config(falkor_uri(), graph_name))
    yield provider
    provider.delete_graph()
    provider.close()


@pytest.fixture(scope="session")
def bolt_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis(bolt=True).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def _bolt_session_provider(bolt_server: PrivateRedis) -> Iterator[Neo4jProvider]:
    # One driver for the session: FalkorDB's Bolt endpoint hangs every other fresh handshake
    # after a connection closes, so tests reuse pooled connections.
    provider = Neo4jProvider(bolt_config(bolt_server.bolt_url))
    yield provider
    provider.close()


@pytest.fixture
def bolt(_bolt_session_provider: Neo4jProvider) -> Iterator[Neo4jProvider]:
    provider = _bolt_session_provider
    provider.breaker.reset()
    yield provider
    provider.run("MATCH (n) DETACH DELETE n")


@pytest.fixture
def neo4j_real() -> Iterator[Neo4jProvider]:
    uri = os.environ.get("NEO4J_TEST_URI")
    if not uri:
        pytest.skip("NEO4J_TEST_URI is not set: no real Neo4j server here")
    provider = Neo4jProvider(
        GraphConfig(
            "neo4j",
            uri,
            user=os.environ.get("NEO4J_TEST_USER", "neo4j"),
            password=os.environ.get("NEO4J_TEST_PASSWORD"),
            database=os.environ.get("NEO4J_TEST_DATABASE"),
            **FAST,  # type: ignore[arg-type]
        )
    )
    provider.run("MATCH (n) DETACH DELETE n")
    yield provider
    provider.run("MATCH (n) DETACH DELETE n")
    provider.close()


@pytest.fixture(params=["falkordb", "neo4j-bolt", "neo4j"])
def graph(request: pytest.FixtureRequest) -> BaseGraphProvider:
    """Every provider the contract suite runs against (see the module docstring)."""
    name = {"falkordb": "falkor", "neo4j-bolt": "bolt", "neo4j": "neo4j_real"}[request.param]
    return request.getfixturevalue(name)


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP server that accepts connections and never answers; yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
