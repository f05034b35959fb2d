"""graph_migrate: both directions, multi-label nodes, parallel edges, self-loops, uid mapping,
conversions, refusal of a non-empty target, dry run, resume, verification.

Directions tested: FalkorDB (native) -> Neo4j provider (driver over a private FalkorDB's Bolt
endpoint, graph ``falkordb``) and back, and FalkorDB -> FalkorDB between two graphs.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.migrate import MigrationError, convert_value, migrate_graph
from experio_platform.graph.neo4j import Neo4jProvider
from tests.graph.conftest import falkor_config, falkor_uri


def _seed(graph: FalkorDBProvider, nodes: int = 60) -> None:
    graph.run(
        "UNWIND range(0, $n - 1) AS i CREATE (p:GtM {uid: 'p' + toString(i), i: i, "
        "w: i * 1.5, tags: ['a', toString(i)], ok: i % 2 = 0})",
        {"n": nodes},
    )
    graph.run("MATCH (p:GtM) WHERE p.i % 3 = 0 SET p:GtExtra")  # multi-label nodes
    graph.run("UNWIND range(0, 9) AS i CREATE (:GtNoUid {name: 'x' + toString(i)})")  # no uid
    graph.run("CREATE (:GtTime {uid: 't', at: localdatetime('2026-01-02T03:04:05')})")
    graph.run(  # a chain, a parallel edge, a self-loop, relationship properties
        "MATCH (a:GtM), (b:GtM) WHERE b.i = a.i + 1 CREATE (a)-[:GT_NEXT {d: a.i}]->(b)"
    )
    graph.run("MATCH (a:GtM {uid: 'p1'}), (b:GtM {uid: 'p2'}) CREATE (a)-[:GT_NEXT {d: -1}]->(b)")
    graph.run("MATCH (a:GtM {uid: 'p5'}) CREATE (a)-[:GT_SELF]->(a)")
    graph.run("MATCH (a:GtNoUid), (b:GtM {uid: 'p0'}) CREATE (a)-[:GT_TO]->(b)")


def _counts(graph) -> tuple:
    labels = graph.run(
        "MATCH (n) UNWIND labels(n) AS l RETURN l, count(n) AS c ORDER BY l", read_only=True
    ).records
    types = graph.run(
        "MATCH ()-[r]->() RETURN type(r) AS t, count(r) AS c ORDER BY t", read_only=True
    ).records
    return tuple((r["l"], r["c"]) for r in labels), tuple((r["t"], r["c"]) for r in types)


@pytest.fixture
def falkor2(graph_name: str):
    provider = FalkorDBProvider(falkor_config(falkor_uri(), graph_name + "_b"))
    yield provider
    provider.delete_graph()
    provider.close()


def test_migrate__falkordb_to_falkordb_all_shapes(
    falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    _seed(falkor)
    report = migrate_graph(falkor, falkor2, batch_size=16, sample=80)
    assert report.ok, report.differences
    assert report.nodes_written == 71 and report.relationships_written == 59 + 1 + 1 + 10
    assert _counts(falkor) == _counts(falkor2)
    assert report.conversions["datetime -> string"] == 1
    at = falkor2.run("MATCH (n:GtTime) RETURN n.at AS at").value()
    assert at == "2026-01-02T03:04:05.000000Z"
    # nodes without uid got a deterministic one; self-loop and parallel edges survived
    assert (
        falkor2.run("MATCH (n:GtNoUid) WHERE n.uid STARTS WITH 'm-' RETURN count(n)").value() == 10
    )
    assert falkor2.run("MATCH (a)-[r:GT_SELF]->(a) RETURN count(r)").value() == 1
    par = "MATCH (:GtM {uid: 'p1'})-[r:GT_NEXT]->(:GtM {uid: 'p2'}) RETURN count(r)"
    assert falkor2.run(par).value() == 2
    assert falkor.run("MATCH (n) RETURN count(n)").value() == 71  # source untouched

    with pytest.raises(MigrationError, match="not empty"):
        migrate_graph(falkor, falkor2)
    # Resume/re-run: MERGE on uid changes nothing and verifies.
    again = migrate_graph(falkor, falkor2, into_existing=True, batch_size=16)
    assert again.ok, again.differences
    assert _counts(falkor) == _counts(falkor2)
    # A difference is found and listed.
    falkor2.run("MATCH (n:GtM {uid: 'p7'}) SET n.w = 99.0")
    falkor2.run("MATCH (n:GtM {uid: 'p8'}) DETACH DELETE n")
    cleared = migrate_graph(falkor, falkor2, clear_target=True, batch_size=50, sample=0)
    assert cleared.ok and _counts(falkor) == _counts(falkor2)


def test_migrate__falkordb_to_neo4j_bolt_and_back(
    falkor: FalkorDBProvider, bolt: Neo4jProvider, falkor2: FalkorDBProvider
) -> None:
    _seed(falkor, nodes=20)
    # FalkorDB's Bolt endpoint crashes on parameters over ~3 KB: tiny batches towards it.
    there = migrate_graph(falkor, bolt, batch_size=8, sample=30)
    assert there.ok, there.differences
    assert _counts(falkor) == _counts(bolt)
    back = migrate_graph(bolt, falkor2, batch_size=8, sample=30)
    assert back.ok, back.differences
    assert _counts(falkor2) == _counts(falkor)
    w = falkor2.run("MATCH (n:GtM {uid: 'p3'}) RETURN n.w AS w, n.tags AS t").single()
    assert w == {"w": 4.5, "t": ["a", "3"]}


def test_migrate__verification_lists_differences(
    falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    from experio_platform.graph.migrate import verify

    _seed(falkor, nodes=10)
    id_map: dict = {}
    report = migrate_graph(falkor, falkor2, sample=0)
    assert report.ok
    falkor2.run("MATCH (n:GtM {uid: 'p3'}) SET n.w = 1000.0")
    falkor2.run("MATCH ()-[r:GT_SELF]->() DELETE r")
    src = {r["uid"]: r["id"] for r in falkor.run("MATCH (n) RETURN n.uid AS uid, id(n) AS id")}
    dst = {r["uid"]: r["id"] for r in falkor2.run("MATCH (n) RETURN n.uid AS uid, id(n) AS id")}
    id_map = {src[u]: dst[u] for u in src if u in dst}
    diffs = verify(falkor, falkor2, id_map, sample=len(id_map))
    assert "type GT_SELF: source 1, target 0" in diffs
    assert any("property w: 4.5 != 1000.0" in d for d in diffs)


def test_convert_value__rules() -> None:
    import datetime as dt
    from collections import Counter

    seen: Counter = Counter()
    assert convert_value(float("nan"), seen) is None
    assert convert_value({"a": 1}, seen) == '{"a": 1}'
    assert convert_value(b"\x00\x01", seen) == "AAE="
    assert convert_value(dt.date(2026, 1, 2), seen) == "2026-01-02"
    assert convert_value((1, 2), seen) == [1, 2]
    assert seen["map -> json"] == 1 and seen["nan/inf dropped"] == 1


@pytest.mark.django_db
def test_graph_migrate_command__dry_run_refusal_and_copy(
    settings, falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {"FALKOR_URI": falkor.config.uri, "FALKOR_GRAPH": falkor.graph_name}
    }
    _seed(falkor, nodes=12)
    out = io.StringIO()
    call_command(
        "graph_migrate", "--source", "falkordb", "--target", "falkordb",
        "--target-graph", falkor2.graph_name, "--dry-run", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "label GtM: 12" in text and "type GT_NEXT: 12" in text and "plan:" in text
    assert "property GtM.w: float" in text
    assert "label set GtExtra:GtM: 4" in text and "label set GtM: 8" in text
    assert "type GT_SELF: 1" in text and "source: 23 nodes, 23 relationships" in text
    assert falkor2.run("MATCH (n) RETURN count(n)").value() == 0  # dry run wrote nothing
    falkor2.run("CREATE (:Other {uid: 'o'})")
    with pytest.raises(CommandError) as info:
        call_command(
            "graph_migrate", "--source", "falkordb", "--target", "falkordb",
            "--target-graph", falkor2.graph_name, "--no-progress", stdout=io.StringIO(),
        )  # fmt: skip
    assert info.value.returncode == 1 and "not empty" in str(info.value)
    out = io.StringIO()
    call_command(
        "graph_migrate", "--source", "falkordb", "--target", "falkordb",
        "--target-graph", falkor2.graph_name, "--into-existing", "--json", stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["differences"] == [] and data["nodes_written"] == 23
    with pytest.raises(CommandError) as info:
        call_command("graph_migrate", "--source", "falkordb", "--target", "falkordb")
    assert info.value.returncode == 1 and "same graph" in str(info.value)


@pytest.mark.django_db
def test_graph_status_command(settings, falkor: FalkorDBProvider, closed_port: int) -> None:
    from experio_platform.graph import reset_graph

    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": falkor.config.uri,
            "FALKOR_GRAPH": falkor.graph_name,
        }
    }
    out = io.StringIO()
    call_command("graph_status", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["ok"] and data["provider"] == "falkordb" and data["graph_exists"] is False
    assert falkor.graph_name not in falkor.command("GRAPH.LIST")  # status did not create it
    _seed(falkor, nodes=5)
    out = io.StringIO()
    call_command("graph_status", stdout=out)
    assert "GtM: 5" in out.getvalue() and "FalkorDB 4." in out.getvalue()
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": f"redis://127.0.0.1:{closed_port}",
        }
    }
    with pytest.raises(CommandError) as info:
        call_command("graph_status", "--timeout", "0.5", stdout=io.StringIO())
    assert info.value.returncode == 1
    reset_graph()


def test_migrate__2000_nodes_6000_relationships(
    falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    """The benchmark's shape at test size (bench/graph.py runs 100,000 + 300,000)."""
    for labels, keep in ((":GtP:GtC", "="), (":GtP", "<>")):
        falkor.run(
            f"UNWIND range(0, 1999) AS i WITH i WHERE i % 5 {keep} 0 "
            f"CREATE (n{labels} {{uid: 'p' + toString(i), i: i, s: i * 0.25}})"
        )
    falkor.run(
        "UNWIND range(0, 5999) AS i WITH i, i % 2000 AS x, (i * 7919 + 13) % 2000 AS y "
        "MATCH (a) WHERE id(a) = x WITH a, i, y MATCH (b) WHERE id(b) = y "
        "CREATE (a)-[:GT_K {w: i}]->(b)"
    )
    report = migrate_graph(falkor, falkor2, batch_size=500, sample=300)
    assert report.ok, report.differences[:5]
    assert (report.nodes_written, report.relationships_written) == (2000, 6000)
    assert _counts(falkor) == _counts(falkor2) and report.rate > 0
    assert any(line.startswith("unique GtP.uid") for line in report.schema)


@pytest.mark.django_db(transaction=True)
def test_graph_migrate_command__killed_mid_load_then_rerun_resumes(
    falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    """Kill a real ``manage.py graph_migrate`` process mid-load (SIGKILL), re-run the SAME
    command: it recognises its unfinished run, continues with MERGE on uid, verifies exactly
    and duplicates nothing. A foreign non-empty target is still refused."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from django.db import connection

    from experio_platform.graph.models import GraphMigrationRun

    nodes = 30000
    falkor.run(f"UNWIND range(0, {nodes - 1}) AS i CREATE (:GtK {{uid: 'k' + toString(i), i: i}})")
    falkor.run("UNWIND range(0, 99) AS i CREATE (:GtKNoUid {i: i})")  # deterministic uids
    falkor.run(
        "UNWIND range(0, 2999) AS i WITH i, (i * 7 + 1) % 3000 AS y "
        "MATCH (a) WHERE id(a) = i WITH a, i, y MATCH (b) WHERE id(b) = y "
        "CREATE (a)-[:GT_R {i: i}]->(b)"
    )
    env = {
        **os.environ,
        "DB_NAME": connection.settings_dict["NAME"],
        "DJANGO_SETTINGS_MODULE": "tests.graph.subprocess_settings",
    }
    command = [
        sys.executable, "manage.py", "graph_migrate", "--source", "falkordb",
        "--target", "falkordb", "--source-graph", falkor.graph_name,
        "--target-graph", falkor2.graph_name, "--batch-size", "100", "--no-progress",
    ]  # fmt: skip
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    written = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if falkor2.graph_name in falkor2.command("GRAPH.LIST"):
            written = falkor2.run("MATCH (n) RETURN count(n)", read_only=True).value()
            if written >= 1000:
                break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    partial = falkor2.run("MATCH (n) RETURN count(n)", read_only=True).value()
    assert 0 < partial < nodes, f"not killed mid-load ({partial} nodes written)"
    run = GraphMigrationRun.objects.get()
    assert run.status == GraphMigrationRun.Status.RUNNING

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    assert "unfinished run of this migration" in done.stdout
    assert _counts(falkor) == _counts(falkor2)
    dup = "MATCH (n) WITH n.uid AS u, count(n) AS c WHERE c > 1 RETURN count(u)"
    assert falkor2.run(dup).value() == 0
    rdup = "MATCH ()-[r]->() WITH r.uid AS u, count(r) AS c WHERE c > 1 RETURN count(u)"
    assert falkor2.run(rdup).value() == 0
    assert list(GraphMigrationRun.objects.values_list("mode", "status", "phase")) == [
        ("fresh", "finished", "superseded"),
        ("resume", "finished", "verify"),
    ]
    # The run is finished now: the target counts as foreign again and a plain re-run refuses.
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "not empty" in again.stderr


@pytest.mark.django_db
def test_graph_migrate_command__verification_failure_exits_1_listing_differences(
    settings, monkeypatch, falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    """Relationships are not copied (the copy step is replaced by a no-op): the real
    verification must catch it, list each difference and exit 1."""
    from experio_platform.graph import migrate

    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {"FALKOR_URI": falkor.config.uri, "FALKOR_GRAPH": falkor.graph_name}
    }
    _seed(falkor, nodes=12)
    monkeypatch.setattr(migrate, "_copy_relationships", lambda *args, **kwargs: None)
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "graph_migrate", "--source", "falkordb", "--target", "falkordb",
            "--target-graph", falkor2.graph_name, "--no-progress", stdout=out,
        )  # fmt: skip
    assert info.value.returncode == 1 and "difference" in str(info.value)
    text = out.getvalue()
    assert "DIFFERENCE type GT_NEXT: source 12, target 0" in text
    assert "DIFFERENCE type GT_SELF: source 1, target 0" in text


def _all_properties(graph) -> tuple:
    nodes = graph.run("MATCH (n) RETURN labels(n) AS l, properties(n) AS p", read_only=True)
    rels = graph.run(
        "MATCH (a)-[r]->(b) RETURN a.uid AS a, type(r) AS t, b.uid AS b, properties(r) AS p",
        read_only=True,
    )
    return (
        sorted((sorted(r["l"]), sorted(r["p"].items())) for r in nodes.records),
        sorted((r["a"], r["t"], r["b"], sorted(r["p"].items())) for r in rels.records),
    )


def test_migrate__dense_and_sparse_property_keys_copied_exactly(
    falkor: FalkorDBProvider, falkor2: FalkorDBProvider
) -> None:
    """A fresh load writes dense batches as lists with the keys inline in CREATE (a missing
    key is a null, which CREATE skips) and sparse ones as one map per row: both must copy
    every property of every node and relationship exactly, odd key names included."""
    falkor.run(  # dense: every node has the same keys, one needs quoting, one is missing
        "UNWIND range(0, 39) AS i CREATE (:GtDense {uid: 'd' + toString(i), i: i, "
        "`two words`: 'x' + toString(i), f: i / 3.0, l: [i, 'a'], b: i % 2 = 0, "
        "opt: CASE WHEN i % 4 = 0 THEN NULL ELSE i END})"
    )
    sparse = [{"uid": f"s{i}", f"k{i}": i} for i in range(40)]  # 40 keys, too many inline
    falkor.run("UNWIND $rows AS row CREATE (n:GtSparse) SET n = row", {"rows": sparse})
    falkor.run(
        "MATCH (a:GtDense), (b:GtDense) WHERE b.i = (a.i + 1) % 40 "
        "CREATE (a)-[:GT_D {w: a.i * 0.5, `1st`: a.i}]->(b), (a)-[:GT_D {w: -1.0}]->(b)"
    )
    links = [{"a": f"s{i}", "b": f"d{i}", "p": {f"p{i}": i}} for i in range(40)]
    falkor.run(
        "UNWIND $rows AS row MATCH (a:GtSparse {uid: row.a}), (b:GtDense {uid: row.b}) "
        "CREATE (a)-[r:GT_S]->(b) SET r = row.p",
        {"rows": links},
    )
    report = migrate_graph(falkor, falkor2, batch_size=16, sample=80)
    assert report.ok, report.differences
    assert (report.nodes_written, report.relationships_written) == (80, 120)
    source, target = _all_properties(falkor), _all_properties(falkor2)
    strip = [(a, t, b, [kv for kv in p if kv[0] != "uid"]) for a, t, b, p in target[1]]
    assert target[0] == source[0]  # every node carried its uid already
    assert strip == source[1]  # relationships got a uid on top of their own properties
    assert all(any(k == "uid" for k, _ in p) for *_, p in target[1])
