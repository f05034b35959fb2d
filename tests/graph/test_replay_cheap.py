"""The beat-scheduled replay (every 30 s in devsite/celery.py) is cheap when there is nothing to
do or the graph is still down: no graph connection for an empty outbox, and with the graph down
one bounded attempt, then the open circuit breaker answers the next runs without a connection.

"Down" is a real TCP listener that counts the connections it accepts and closes each at once
(what a dying server does); the task function is called as the Celery worker would call it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from experio_platform.graph import reset_graph
from experio_platform.graph.models import GraphOutbox
from experio_platform.graph.outbox import defer
from experio_platform.graph.tasks import replay_graph_outbox
from tests.graph.servers import CountingListener

MERGE = "MERGE (n:GtCheap {uid: $uid})"


@pytest.fixture
def down_graph(settings) -> Iterator[CountingListener]:
    server = CountingListener()
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": f"redis://127.0.0.1:{server.port}",
            "FALKOR_GRAPH": "graph_test_cheap",
        },
        "GRAPH_CONNECT_TIMEOUT": 0.5,
        "GRAPH_QUERY_TIMEOUT": 1.0,
        "GRAPH_RETRY_ATTEMPTS": 2,
        "GRAPH_RETRY_BASE_DELAY": 0.01,
        "GRAPH_RETRY_MAX_DELAY": 0.02,
        "GRAPH_BREAKER_COOLDOWN": 1.0,
    }
    reset_graph()
    yield server
    reset_graph()
    server.close()


@pytest.mark.django_db
def test_replay_task__empty_outbox_touches_no_graph(down_graph: CountingListener) -> None:
    started = time.monotonic()
    report = replay_graph_outbox()
    assert report["applied"] == 0 and report["remaining"] == 0 and report["stopped"] == ""
    assert down_graph.accepted == 0  # no connection at all
    assert time.monotonic() - started < 0.5


@pytest.mark.django_db
def test_replay_task__graph_down_breaker_open_no_connection_storm(
    down_graph: CountingListener,
) -> None:
    for i in range(3):
        defer(MERGE, {"uid": f"c{i}"}, key=f"c{i}")
    first = replay_graph_outbox()
    assert first["applied"] == 0 and first["failed"] == 1 and first["remaining"] == 3
    after_first = down_graph.accepted
    assert 1 <= after_first <= 3  # one bounded attempt (with its retries), not one per entry
    started = time.monotonic()
    for _ in range(5):  # the next runs while the breaker is open: no connection, at once
        again = replay_graph_outbox()
        assert again["failed"] == 1 and again["remaining"] == 3
    assert down_graph.accepted == after_first
    assert time.monotonic() - started < 0.5
    time.sleep(1.05)  # the cooldown is over: one probe goes through
    replay_graph_outbox()
    assert after_first < down_graph.accepted <= after_first + 3
    assert GraphOutbox.objects.filter(status="pending").count() == 3  # nothing lost or parked
