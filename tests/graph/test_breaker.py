"""The circuit breaker on its own (a fake clock): fail fast while open, exactly ONE probe after
the cooldown even under concurrency, reopen on a failed probe, close on a good one; and through
a real provider, a probe that dies of a non-graph error does not wedge the breaker open."""

from __future__ import annotations

import threading

import pytest

from experio_platform.graph.exceptions import GraphQueryError, GraphUnavailable
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.resilience import CircuitBreaker


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker__fail_fast_then_one_probe_then_close() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(5.0, clock=clock)
    assert breaker.before_call("g") is False and breaker.state == "closed"
    breaker.record_failure(GraphUnavailable("down"))
    assert breaker.state == "open"
    with pytest.raises(GraphUnavailable, match="circuit open"):
        breaker.before_call("g")
    clock.now += 5.0
    assert breaker.state == "half-open"
    # Many callers at once after the cooldown: exactly one is let through as the probe.
    results: list[object] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        try:
            results.append(breaker.before_call("g"))
        except GraphUnavailable:
            results.append("fast-fail")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and results.count("fast-fail") == 7
    breaker.record_failure(GraphUnavailable("still down"), probe=True)  # probe failed: reopen
    assert breaker.state == "open"
    with pytest.raises(GraphUnavailable):
        breaker.before_call("g")
    clock.now += 5.0
    assert breaker.before_call("g") is True
    breaker.record_success(probe=True)
    assert breaker.state == "closed" and breaker.before_call("g") is False


def test_breaker__probe_that_raises_a_non_graph_error_releases_the_probe(
    falkor: FalkorDBProvider,
) -> None:
    clock = _Clock()
    falkor.breaker = CircuitBreaker(1.0, clock=clock)
    falkor.breaker.record_failure(GraphUnavailable("down"))
    clock.now += 1.0

    def boom() -> None:
        raise RuntimeError("a bug in the caller's code path")

    with pytest.raises(RuntimeError):
        falkor._guarded(boom, attempts=1, budget=1.0)
    # The next call is the probe again (not "circuit open" forever) and reaches the server.
    assert falkor.run("RETURN 3 AS x").value() == 3
    assert falkor.breaker.state == "closed"
    with pytest.raises(GraphQueryError):
        falkor.run("RETURN nope(")  # bad Cypher neither opens nor counts as unavailability
    assert falkor.breaker.state == "closed"
