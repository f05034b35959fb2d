"""The error taxonomy against real servers: the driver's exception kept as ``__cause__``, the
right class per failure, and no credential in any message, hint or health error."""

from __future__ import annotations

import urllib.parse

import pytest

from experio_platform.graph.base import GraphConfig
from experio_platform.graph.exceptions import (
    GraphAuthError,
    GraphError,
    GraphQueryError,
    GraphTransientError,
    GraphUnavailable,
)
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.neo4j import Neo4jProvider
from tests.graph.conftest import FAST, falkor_uri

SECRET = "S3cret-graph-pw"


def _text(exc: GraphError) -> str:
    return f"{exc} {exc!r} {exc.message} {getattr(exc, 'hint', '')}"


def _cases(closed_port: int) -> list[tuple[type[GraphError], object]]:
    real = urllib.parse.urlparse(falkor_uri())
    fast = {**FAST, "retry_attempts": 1}
    return [
        (  # a password in the URI, server down
            GraphUnavailable,
            FalkorDBProvider(
                GraphConfig("falkordb", f"redis://:{SECRET}@127.0.0.1:{closed_port}", **fast)  # type: ignore[arg-type]
            ),
        ),
        (  # wrong user and password against the real server
            GraphAuthError,
            FalkorDBProvider(
                GraphConfig(
                    "falkordb",
                    f"redis://bob:{SECRET}@{real.hostname}:{real.port}",
                    database="graph_test_auth",
                    **fast,  # type: ignore[arg-type]
                )
            ),
        ),
        (  # the password as its own setting, server down (Neo4j driver)
            GraphUnavailable,
            Neo4jProvider(
                GraphConfig(
                    "neo4j",
                    f"bolt://127.0.0.1:{closed_port}",
                    user="neo4j",
                    password=SECRET,
                    **fast,  # type: ignore[arg-type]
                )
            ),
        ),
    ]


def test_errors__class_cause_and_no_credentials(closed_port: int) -> None:
    for expected, provider in _cases(closed_port):
        assert isinstance(provider, FalkorDBProvider | Neo4jProvider)
        with pytest.raises(GraphError) as info:
            provider.run("RETURN 1")
        assert type(info.value) is expected, (expected, info.value)
        assert info.value.__cause__ is not None  # the driver's exception is kept
        assert SECRET not in _text(info.value)
        health = provider.health(0.5)
        assert not health.ok and SECRET not in f"{health!r} {health.error}"
        assert SECRET not in repr(provider)
        provider.close()


def test_errors__bad_cypher_is_query_error_never_retried(falkor: FalkorDBProvider) -> None:
    calls = 0
    original = falkor._run

    def counting(*args: object) -> object:
        nonlocal calls
        calls += 1
        return original(*args)  # type: ignore[arg-type]

    falkor._run = counting  # type: ignore[method-assign]
    with pytest.raises(GraphQueryError) as info:
        falkor.run("MATCH (n RETURN n", read_only=True)  # reads are retried, bad Cypher not
    assert calls == 1 and info.value.__cause__ is not None


def test_errors__driver_transient_errors_map_to_transient(falkor: FalkorDBProvider) -> None:
    """The mapping of the drivers' own transient exception classes (a loading Redis and a
    Neo4j TransientError cannot be provoked on demand here)."""
    import neo4j.exceptions as nex
    import redis.exceptions as rex

    assert isinstance(
        falkor._map_error(rex.BusyLoadingError("loading"), "query"), GraphTransientError
    )
    neo = Neo4jProvider(GraphConfig("neo4j", "bolt://127.0.0.1:1"))
    err = nex.TransientError._hydrate_neo4j(
        code="Neo.TransientError.Transaction.DeadlockDetected", message="deadlock"
    )
    assert isinstance(neo._map_error(err, "query"), GraphTransientError)
