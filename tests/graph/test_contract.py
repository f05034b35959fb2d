"""The contract every provider passes (one suite, pattern of Django's SessionTestsMixin).

Runs against: real FalkorDB through the native client (always); the Neo4j provider's real
``neo4j`` driver path against a private FalkorDB's Bolt endpoint (the subset that endpoint
carries: no rollback, no Neo4j DDL, no READ-routing enforcement); real Neo4j when
NEO4J_TEST_URI is set (skipped visibly otherwise).
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from experio_platform.graph.base import BaseGraphProvider, SchemaSpec
from experio_platform.graph.dialect import render
from experio_platform.graph.exceptions import (
    GraphConstraintError,
    GraphError,
    GraphQueryError,
    GraphValueError,
)
from experio_platform.graph.types import (
    GraphNode,
    GraphPath,
    GraphRelationship,
    QueryResult,
    WriteStats,
)


def _is_bolt_compat(graph: BaseGraphProvider) -> bool:
    return graph.dialect.name == "neo4j-compat"


def test_contract__records_are_dicts_of_plain_values(graph: BaseGraphProvider) -> None:
    result = graph.run("RETURN 1 AS one, 'x' AS s, [1, 2] AS l, true AS b, null AS n")
    assert isinstance(result, QueryResult)
    assert result.keys == ("one", "s", "l", "b", "n")
    assert result.records == ({"one": 1, "s": "x", "l": [1, 2], "b": True, "n": None},)
    assert result.single() == result.records[0]
    assert result.value("s") == "x"


def test_contract__nodes_relationships_paths_and_stats(graph: BaseGraphProvider) -> None:
    created = graph.run(
        "CREATE (a:GtPerson:GtAdmin {uid: 'a', name: 'Ann'})-[r:GT_KNOWS {since: 2020}]->"
        "(b:GtPerson {uid: 'b', name: 'Bob'}) RETURN a, r, b"
    )
    assert created.stats.nodes_created == 2
    assert created.stats.relationships_created == 1
    assert created.stats.properties_set == 5
    record = created.single()
    a, r, b = record["a"], record["r"], record["b"]
    assert isinstance(a, GraphNode) and isinstance(r, GraphRelationship)
    assert a.labels == ("GtAdmin", "GtPerson")  # sorted, whatever the driver's order
    assert a.properties == {"uid": "a", "name": "Ann"} and a["name"] == "Ann"
    assert r.type == "GT_KNOWS" and r.properties == {"since": 2020}
    assert (r.start_id, r.end_id) == (a.id, b.id)
    assert isinstance(a.id, str) and a.id != b.id

    path = graph.run(
        "MATCH p = (:GtPerson {uid: 'a'})-[:GT_KNOWS]->(:GtPerson) RETURN p", read_only=True
    ).value("p")
    assert isinstance(path, GraphPath) and len(path) == 1
    assert [n.properties["uid"] for n in path.nodes] == ["a", "b"]
    assert path.relationships[0].type == "GT_KNOWS"

    deleted = graph.run("MATCH (n:GtPerson) DETACH DELETE n")
    assert deleted.stats.nodes_deleted == 2 and deleted.stats.relationships_deleted == 1


def test_contract__run_batched_sums_stats(graph: BaseGraphProvider) -> None:
    rows = [{"uid": f"u{i}", "props": {"i": i, "name": f"n{i}"}} for i in range(25)]
    cypher = render("merge_nodes", graph.dialect, label="GtBatch")
    result = graph.run_batched(cypher, rows, batch_size=10)
    assert result.stats.nodes_created == 25
    assert result.column("written") == [10, 10, 5]
    again = graph.run_batched(cypher, iter(rows), batch_size=7)  # idempotent MERGE on uid
    assert again.stats.nodes_created == 0
    count = graph.run("MATCH (n:GtBatch) RETURN count(n) AS c", read_only=True).value("c")
    assert count == 25


def test_contract__parallel_edges_counted_with_count_r(graph: BaseGraphProvider) -> None:
    graph.run(
        "CREATE (a:GtPar {uid: 'p'}), (a)-[:GT_R]->(b:GtPar {uid: 'q'}), (a)-[:GT_R]->(b), "
        "(a)-[:GT_R]->(a)"
    )
    rows = graph.run(render("count_by_type", graph.dialect), read_only=True).records
    assert {r["type"]: r["count"] for r in rows}["GT_R"] == 3


def test_contract__canonical_values_on_the_way_in(graph: BaseGraphProvider) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    graph.run(
        "CREATE (n:GtVal {uid: 'v', at: $at, tags: $tags, day: $day})",
        {"at": when, "tags": {"b", "a"}, "day": dt.date(2026, 1, 2)},
    )
    node = graph.run("MATCH (n:GtVal) RETURN n", read_only=True).value("n")
    assert node["at"] == "2026-01-02T01:04:05.000006Z"
    assert node["tags"] == ["a", "b"] and node["day"] == "2026-01-02"
    with pytest.raises(GraphValueError, match="NaN"):
        graph.run("CREATE (:GtVal {x: $x})", {"x": math.nan})
    with pytest.raises(GraphValueError, match="map"):
        graph.run("CREATE (n:GtVal) SET n += $props", {"props": {"nested": {"a": 1}}})
    with pytest.raises(GraphValueError, match="aware"):
        graph.run("CREATE (:GtVal {x: $x})", {"x": dt.datetime(2026, 1, 1)})


def test_contract__bad_cypher_is_query_error_with_cause(graph: BaseGraphProvider) -> None:
    with pytest.raises(GraphQueryError) as info:
        graph.run("MATCH (n RETURN n", read_only=True)
    assert info.value.__cause__ is not None
    assert not isinstance(info.value.__cause__, GraphError)
    assert info.value.retryable is False


def test_contract__read_only_routing_refuses_writes(graph: BaseGraphProvider) -> None:
    if _is_bolt_compat(graph):
        pytest.skip("FalkorDB's Bolt endpoint ignores the access mode (documented)")
    with pytest.raises(GraphQueryError):
        graph.run("CREATE (:GtRo {uid: 'x'})", read_only=True)
    assert graph.run("MATCH (n:GtRo) RETURN count(n) AS c", read_only=True).value("c") == 0


def test_contract__ensure_schema_is_idempotent_and_unique_enforced(
    graph: BaseGraphProvider,
) -> None:
    if _is_bolt_compat(graph):
        pytest.skip("FalkorDB's Bolt endpoint runs FalkorDB Cypher, not Neo4j's DDL")
    spec = SchemaSpec.of(("GtSchema", "uid", True), ("GtSchema", "name"))
    first = graph.ensure_schema(spec)
    assert [a.action for a in first] == ["created", "created"]
    second = graph.ensure_schema(spec)
    assert [a.action for a in second] == ["unchanged", "unchanged"]
    graph.run("CREATE (:GtSchema {uid: 'dup'})")
    with pytest.raises(GraphConstraintError) as info:
        graph.run("CREATE (:GtSchema {uid: 'dup'})")
    assert info.value.__cause__ is not None
    schema = graph.schema()  # type: ignore[attr-defined]
    assert schema["indexes"] and schema["constraints"]


def test_contract__transaction(graph: BaseGraphProvider) -> None:
    if graph.name == "falkordb":
        with (
            pytest.raises(GraphQueryError, match="no multi-statement transactions"),
            graph.transaction() as tx,
        ):
            tx.run("CREATE (:GtTx)")
        assert graph.run("MATCH (n:GtTx) RETURN count(n) AS c").value("c") == 0
        return
    with graph.transaction() as tx:
        tx.run("CREATE (:GtTx {uid: 'c1'})")
        assert tx.run("MATCH (n:GtTx) RETURN count(n) AS c").value("c") == 1
    assert graph.run("MATCH (n:GtTx) RETURN count(n) AS c").value("c") == 1
    if _is_bolt_compat(graph):
        return  # FalkorDB's Bolt endpoint does not roll back (documented)
    with pytest.raises(RuntimeError), graph.transaction() as tx:
        tx.run("CREATE (:GtTx {uid: 'c2'})")
        raise RuntimeError("boom")
    assert graph.run("MATCH (n:GtTx) RETURN count(n) AS c").value("c") == 1


def test_contract__close_then_run_refuses(graph: BaseGraphProvider) -> None:
    from experio_platform.graph.handler import build_provider

    other = build_provider(graph.config)
    assert other.run("RETURN 1 AS x").value() == 1
    other.close()
    with pytest.raises(GraphQueryError, match="closed"):
        other.run("RETURN 1 AS x")


def test_contract__write_stats_add() -> None:
    total = WriteStats(nodes_created=1) + WriteStats(nodes_created=2, properties_set=3)
    assert total == WriteStats(nodes_created=3, properties_set=3) and total.contains_updates


def test_falkordb__unique_constraint_on_duplicates_reports_failed(falkor) -> None:
    falkor.run("CREATE (:GtDup {uid: 'same'}), (:GtDup {uid: 'same'})")
    actions = falkor.ensure_schema(SchemaSpec.of(("GtDup", "uid", True)))
    assert [(a.kind, a.action) for a in actions] == [("constraint", "failed")]
    assert "FAILED" in actions[0].detail


def test_falkordb__passthrough_transactions(falkor) -> None:
    from dataclasses import replace

    from experio_platform.graph.falkordb import FalkorDBProvider

    passthrough = FalkorDBProvider(replace(falkor.config, transactions="passthrough"))
    with passthrough.transaction() as tx:
        tx.run("CREATE (:GtPt {uid: 'a'})")
        assert tx.run("MATCH (n:GtPt) RETURN count(n) AS c").value("c") == 1
    with pytest.raises(RuntimeError), passthrough.transaction() as tx:
        tx.run("CREATE (:GtPt {uid: 'b'})")
        raise RuntimeError("no rollback on FalkorDB")
    assert falkor.run("MATCH (n:GtPt) RETURN count(n) AS c").value("c") == 2  # documented
    passthrough.close()


def test_contract__private_rows_path_returns_the_values_of_run(graph: BaseGraphProvider) -> None:
    """graph_migrate's fast path (``_rows``): tuples in RETURN order holding exactly the values
    ``run()`` puts in its records, for every kind of value (FalkorDB decodes them itself)."""
    graph.run(
        "CREATE (a:GtRows:GtRowsB {uid: 'a', f: 0.1, big: 123456789012345, s: 'x\"y\\\\z', "
        "l: [1, 'two', 3.5, true], b: false})-[:GT_ROWS {w: -2}]->(:GtRows {uid: 'b'})"
    )
    cypher = (
        "MATCH p = (a:GtRows {uid: 'a'})-[r]->(b) RETURN a, r, b, p, properties(a) AS props, "
        "labels(a) AS labels, a.f AS f, a.big AS big, a.s AS s, a.l AS l, a.b AS bool, "
        "a.missing AS none, {k: [1, {n: 'm'}], e: []} AS m, type(r) AS t, $x AS x"
    )
    params = {"x": [1.5, "é", None]}
    expected = graph.run(cypher, params, read_only=True)
    rows = graph._rows(cypher, params, read_only=True)
    assert rows == [tuple(expected.records[0][k] for k in expected.keys)]
    assert isinstance(rows[0][0], GraphNode) and isinstance(rows[0][3], GraphPath)
    assert sorted(rows[0][5]) == ["GtRows", "GtRowsB"]
    assert rows[0][6:12] == (0.1, 123456789012345, 'x"y\\z', [1, "two", 3.5, True], False, None)
    if graph.name == "falkordb":  # types FalkorDB's Bolt endpoint cannot return
        other = (
            "RETURN localdatetime('2026-01-02T03:04:05') AS t, vecf32([1.0, 2.5]) AS v, "
            "point({latitude: 1.5, longitude: 2.5}) AS p, [date('2026-01-02')] AS d"
        )
        expected = graph.run(other, read_only=True)
        assert graph._rows(other, read_only=True) == [tuple(expected.records[0].values())]
    # Writes, several rows, a statement that returns nothing, errors as run() raises them.
    written = graph._rows(
        "UNWIND $ids AS i CREATE (n:GtRows {uid: 'w' + toString(i)}) RETURN i, n.uid AS u",
        {"ids": [3, 1, 2]},
    )
    assert written == [(3, "w3"), (1, "w1"), (2, "w2")]
    assert graph._rows("MATCH (n:GtRows) SET n.seen = true") == []
    with pytest.raises(GraphQueryError):
        graph._rows("RETURN nosuchfunction(1)", read_only=True)
    graph.run("MATCH (n:GtRows) DETACH DELETE n")
