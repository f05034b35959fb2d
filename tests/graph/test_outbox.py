"""The outbox: deferred writes survive a down graph and replay in order, once, idempotently.

Uses real PostgreSQL (the test database) and real FalkorDB; the down graph is a closed port
(fault tests with a real server killed and restarted are in test_faults.py).
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from experio_platform.graph.base import GraphConfig
from experio_platform.graph.exceptions import GraphQueryError
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.models import GraphOutbox
from experio_platform.graph.outbox import defer, replay, write_or_defer
from tests.graph.conftest import FAST

pytestmark = pytest.mark.django_db

MERGE = "MERGE (n:GtOut {uid: $uid}) SET n.v = $v"


def _count(graph: FalkorDBProvider) -> list:
    return list(
        graph.run(
            "MATCH (n:GtOut) RETURN n.uid AS uid, n.v AS v ORDER BY uid", read_only=True
        ).records
    )


def test_write_or_defer__down_graph_defers_then_replay_applies_in_order(
    falkor: FalkorDBProvider, closed_port: int
) -> None:
    down = FalkorDBProvider(GraphConfig("falkordb", f"redis://127.0.0.1:{closed_port}", **FAST))
    first = write_or_defer(MERGE, {"uid": "a", "v": 1}, key="a", graph=down)
    assert first.deferred and first.entry_id and "cannot reach" in first.reason
    # Later writes queue behind the earlier ones even when the graph answers again.
    second = write_or_defer(MERGE, {"uid": "a", "v": 2}, key="a", graph=falkor)
    assert second.deferred and "waiting" in second.reason
    write_or_defer(MERGE, {"uid": "b", "v": 3}, key="b", graph=falkor)
    assert _count(falkor) == []

    still_down = replay(graph=down)
    assert still_down.applied == 0 and still_down.remaining == 3 and still_down.stopped
    assert GraphOutbox.objects.get(pk=first.entry_id).attempts == 1

    report = replay(graph=falkor)
    assert (report.applied, report.parked, report.remaining) == (3, 0, 0)
    assert _count(falkor) == [{"uid": "a", "v": 2}, {"uid": "b", "v": 3}]  # order kept

    # Replaying the same entries again (a crash before "applied" was saved) changes nothing.
    GraphOutbox.objects.update(status=GraphOutbox.Status.PENDING)
    assert replay(graph=falkor).applied == 3
    assert _count(falkor) == [{"uid": "a", "v": 2}, {"uid": "b", "v": 3}]
    direct = write_or_defer(MERGE, {"uid": "c", "v": 4}, graph=falkor)
    assert not direct.deferred and direct.result is not None


def test_replay__poison_entry_is_parked_and_the_rest_applies(falkor: FalkorDBProvider) -> None:
    defer(MERGE, {"uid": "x", "v": 1})
    poison = defer("MERGE (n:GtOut {uid: $uid}) SET n.v = nosuchfunction($v)", {"uid": "p"})
    defer(MERGE, {"uid": "y", "v": 2})
    report = replay(graph=falkor)
    assert (report.applied, report.parked) == (2, 1)
    entry = GraphOutbox.objects.get(pk=poison)
    assert entry.status == "parked" and "nosuchfunction" in entry.last_error.lower()
    assert [r["uid"] for r in _count(falkor)] == ["x", "y"]
    assert replay(graph=falkor).parked == 0  # parked entries are not retried forever


def test_defer__refuses_non_idempotent_writes() -> None:
    with pytest.raises(GraphQueryError, match="idempotent"):
        defer("CREATE (n:GtOut {uid: $uid})", {"uid": "z"})
    with pytest.raises(GraphQueryError, match="idempotent"):
        defer("MATCH (n) SET n.x = 1")
    assert GraphOutbox.objects.count() == 0


def test_graph_replay_command__exit_codes(settings, falkor: FalkorDBProvider) -> None:
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": falkor.config.uri,
            "FALKOR_GRAPH": falkor.graph_name,
        }
    }
    defer(MERGE, {"uid": "k", "v": 1}, key="k")
    with pytest.raises(CommandError) as info:
        call_command("graph_replay", "--check", stdout=io.StringIO())
    assert info.value.returncode == 3
    out = io.StringIO()
    call_command("graph_replay", "--json", stdout=out)
    assert json.loads(out.getvalue())["applied"] == 1
    assert _count(falkor) == [{"uid": "k", "v": 1}]
    defer("MERGE (n:GtOut {uid: $uid}) SET n.v = nosuchfunction(1)", {"uid": "bad"})
    with pytest.raises(CommandError) as info:
        call_command("graph_replay", stdout=io.StringIO())
    assert info.value.returncode == 1
    call_command("graph_replay", "--check", stdout=io.StringIO())  # parked: nothing pending
