"""Every built-in query renders for both dialects; the FalkorDB ones pass GRAPH.EXPLAIN.

EXPLAIN goes through ``GRAPH.EXPLAIN`` (a plan only): FalkorDB's ``EXPLAIN <write>`` through
GRAPH.QUERY would execute the write. The test asserts the graph is unchanged afterwards.
"""

from __future__ import annotations

import pytest

from experio_platform.graph.dialect import (
    BUILTIN_QUERIES,
    FalkorDBDialect,
    Neo4jCompatDialect,
    Neo4jDialect,
    quote_name,
    render,
)
from experio_platform.graph.falkordb import FalkorDBProvider

NEO4J_ONLY = ("elementId(", "EXISTS {", "IF NOT EXISTS", "SHOW ", "dbms.components")
PARAMS = {
    "rows": [{"uid": "u", "start": "s", "end": "e", "props": {"x": 1}}],
    "uids": ["u"],
    "uid": "u",
    "id": 0,
    "after": -1,
    "limit": 10,
}


@pytest.mark.parametrize("name", sorted(BUILTIN_QUERIES))
def test_builtin_query__renders_for_both_and_explains_on_falkordb(
    name: str, falkor: FalkorDBProvider
) -> None:
    neo4j_text = render(name, Neo4jDialect())
    falkor_text = render(name, FalkorDBDialect())
    assert neo4j_text and falkor_text
    assert not any(form in falkor_text for form in NEO4J_ONLY), falkor_text
    falkor.run("CREATE (:Entity {uid: 'keep'})")
    plan = falkor.explain(falkor_text, PARAMS)
    assert plan and not plan[0].startswith(" ")  # an operator tree, root first
    # GRAPH.EXPLAIN never executed the write.
    assert falkor.run("MATCH (n) RETURN count(n) AS c", read_only=True).value("c") == 1


def test_dialect__neo4j_only_forms_stay_on_neo4j() -> None:
    neo4j, falkor, compat = Neo4jDialect(), FalkorDBDialect(), Neo4jCompatDialect()
    assert neo4j.node_id("n") == "elementId(n)" and falkor.node_id("n") == "id(n)"
    assert neo4j.exists_pattern("(n)-->()") == "EXISTS { MATCH (n)-->() }"
    assert falkor.exists_pattern("(n)-->()") == "(n)-->()"
    assert "IF NOT EXISTS" in (neo4j.create_unique_constraint("L", "uid") or "")
    assert falkor.create_unique_constraint("L", "uid") is None  # a command there, not Cypher
    assert neo4j.list_indexes().startswith("SHOW INDEXES")
    assert falkor.list_indexes().startswith("CALL db.indexes()")
    assert compat.id_param("node_12") == 12 and falkor.id_param("7") == 7
    assert neo4j.count_relationships("r") == "count(r)"


def test_quote_name__refuses_backticks() -> None:
    assert quote_name("Plain_1") == "Plain_1" and quote_name("has space") == "`has space`"
    with pytest.raises(ValueError):
        quote_name("bad`name")
