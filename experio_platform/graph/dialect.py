"""The Cypher fragments that differ between Neo4j 5 and FalkorDB 4.16, in one object.

Application Cypher is written once where both providers agree and asks ``graph.dialect`` for
the rest. The Neo4j-only forms kept here (never sent to FalkorDB, which rejects them):
``elementId()``, ``EXISTS { }`` subqueries, ``CREATE ... IF NOT EXISTS`` index/constraint DDL,
``SHOW INDEXES``/``SHOW CONSTRAINTS``, ``dbms.components()``. FalkorDB-only forms: pattern
predicates for existence, ``db.indexes()``/``db.constraints()``, ``GRAPH.CONSTRAINT`` (not
Cypher; the provider runs it), ``GRAPH.EXPLAIN``. Relationship counts always use ``count(r)``:
FalkorDB's ``count(*)`` over a relationship pattern collapses parallel edges.

``BUILTIN_QUERIES`` lists every query the platform itself sends; a test renders each for both
dialects and EXPLAINs the FalkorDB ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BUILTIN_QUERIES",
    "Dialect",
    "FalkorDBDialect",
    "Neo4jCompatDialect",
    "Neo4jDialect",
    "quote_name",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_name(name: str) -> str:
    """Return a label/type/property name quoted for Cypher (backticks; refuses backticks)."""
    if not name or "`" in name:
        raise ValueError(f"Invalid graph name {name!r}: empty or contains a backtick.")
    return name if _NAME.match(name) else f"`{name}`"


def label_expr(labels: list[str] | tuple[str, ...]) -> str:
    """Return ``:A:B`` for a label set (both providers accept the colon chain)."""
    return "".join(f":{quote_name(label)}" for label in labels)


@dataclass(frozen=True)
class Dialect:
    """Fragments shared by both dialects; subclasses override what differs."""

    name: str = "base"

    # ---- ids --------------------------------------------------------------------------------
    def node_id(self, var: str) -> str:
        """Expression of a node's provider id (opaque; valid for one query's results)."""
        return f"id({var})"

    def rel_id(self, var: str) -> str:
        return f"id({var})"

    def internal_id(self, var: str) -> str:
        """Integer id used for paging exports (ordered); ``id()`` on both providers."""
        return f"id({var})"

    def id_param(self, value: str) -> object:
        """Convert an opaque id string back to the form ``node_id`` compares with."""
        return int(value)

    # ---- predicates -------------------------------------------------------------------------
    def exists_pattern(self, pattern: str) -> str:
        """A WHERE predicate true when ``pattern`` (e.g. ``(n)-[:R]->()``) has a match."""
        return pattern

    def labels(self, var: str) -> str:
        return f"labels({var})"

    def has_label(self, var: str, label: str) -> str:
        return f"{var}:{quote_name(label)}"

    def count_relationships(self, var: str = "r") -> str:
        # count(*) over a relationship pattern collapses parallel edges on FalkorDB.
        return f"count({var})"

    def starts_with(self, expr: str, param: str) -> str:
        return f"{expr} STARTS WITH ${param}"

    # ---- schema -----------------------------------------------------------------------------
    def create_index(self, label: str, prop: str, *, relationship: bool = False) -> str:
        raise NotImplementedError

    def drop_index(self, label: str, prop: str, *, relationship: bool = False) -> str:
        raise NotImplementedError

    def create_unique_constraint(self, label: str, prop: str) -> str | None:
        """Cypher DDL for a unique constraint, or None when it is not Cypher on this provider."""
        raise NotImplementedError

    def list_indexes(self) -> str:
        raise NotImplementedError

    def list_constraints(self) -> str:
        raise NotImplementedError

    def server_version(self) -> str | None:
        return None


@dataclass(frozen=True)
class Neo4jDialect(Dialect):
    name: str = "neo4j"

    def node_id(self, var: str) -> str:
        return f"elementId({var})"

    def rel_id(self, var: str) -> str:
        return f"elementId({var})"

    def id_param(self, value: str) -> object:
        return value

    def exists_pattern(self, pattern: str) -> str:
        return f"EXISTS {{ MATCH {pattern} }}"

    def create_index(self, label: str, prop: str, *, relationship: bool = False) -> str:
        name = quote_name(f"{'rel' if relationship else 'node'}_{label}_{prop}")
        target = f"()-[n:{quote_name(label)}]-()" if relationship else f"(n:{quote_name(label)})"
        return f"CREATE INDEX {name} IF NOT EXISTS FOR {target} ON (n.{quote_name(prop)})"

    def drop_index(self, label: str, prop: str, *, relationship: bool = False) -> str:
        name = quote_name(f"{'rel' if relationship else 'node'}_{label}_{prop}")
        return f"DROP INDEX {name} IF EXISTS"

    def create_unique_constraint(self, label: str, prop: str) -> str | None:
        name = quote_name(f"unique_{label}_{prop}")
        return (
            f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{quote_name(label)}) "
            f"REQUIRE n.{quote_name(prop)} IS UNIQUE"
        )

    def list_indexes(self) -> str:
        return (
            "SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, state "
            "WHERE type = 'RANGE' RETURN labelsOrTypes AS labels, properties, entityType, state"
        )

    def list_constraints(self) -> str:
        return (
            "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties "
            "RETURN labelsOrTypes AS labels, properties, type"
        )

    def server_version(self) -> str | None:
        return "CALL dbms.components() YIELD name, versions RETURN name, versions"


@dataclass(frozen=True)
class Neo4jCompatDialect(Neo4jDialect):
    """Neo4j forms minus ``elementId()``/``EXISTS {}``: for Bolt servers that lack them.

    Used when the Neo4j provider talks to FalkorDB's Bolt endpoint (the test set-up here): that
    endpoint announces itself as ``Neo4j/5.13.0`` but runs FalkorDB's Cypher.
    """

    name: str = "neo4j-compat"

    def node_id(self, var: str) -> str:
        return f"id({var})"

    def rel_id(self, var: str) -> str:
        return f"id({var})"

    def id_param(self, value: str) -> object:
        # Its Bolt element ids look like "node_12"/"edge_3"; id() compares with the integer.
        return int(str(value).rsplit("_", 1)[-1])

    def exists_pattern(self, pattern: str) -> str:
        return pattern


@dataclass(frozen=True)
class FalkorDBDialect(Dialect):
    name: str = "falkordb"

    def create_index(self, label: str, prop: str, *, relationship: bool = False) -> str:
        target = f"()-[n:{quote_name(label)}]-()" if relationship else f"(n:{quote_name(label)})"
        return f"CREATE INDEX FOR {target} ON (n.{quote_name(prop)})"

    def drop_index(self, label: str, prop: str, *, relationship: bool = False) -> str:
        target = f"()-[n:{quote_name(label)}]-()" if relationship else f"(n:{quote_name(label)})"
        return f"DROP INDEX FOR {target} ON (n.{quote_name(prop)})"

    def create_unique_constraint(self, label: str, prop: str) -> str | None:
        # FalkorDB creates constraints with the GRAPH.CONSTRAINT command, not Cypher.
        return None

    def list_indexes(self) -> str:
        return (
            "CALL db.indexes() YIELD label, properties, types, entitytype, status "
            "RETURN label, properties, types, entitytype, status"
        )

    def list_constraints(self) -> str:
        return (
            "CALL db.constraints() YIELD type, label, properties, entitytype, status "
            "RETURN type, label, properties, entitytype, status"
        )


# ---- built-in queries: name -> (dialect -> Cypher, read_only) --------------------------------
# The example label/type names are what the rendering test uses; callers pass their own.


def _merge_nodes(d: Dialect, label: str = "Entity") -> str:
    return (
        f"UNWIND $rows AS row MERGE (n{label_expr([label])} {{uid: row.uid}}) "
        "SET n += row.props RETURN count(n) AS written"
    )


def _merge_relationships(
    d: Dialect, rel_type: str = "RELATES_TO", start: str = "Entity", end: str = "Entity"
) -> str:
    return (
        f"UNWIND $rows AS row MATCH (a{label_expr([start])} {{uid: row.start}}) "
        f"WITH a, row MATCH (b{label_expr([end])} {{uid: row.end}}) "
        f"MERGE (a)-[r:{quote_name(rel_type)} {{uid: row.uid}}]->(b) "
        "SET r += row.props RETURN count(r) AS written"
    )


def _delete_by_uid(d: Dialect, label: str = "Entity") -> str:
    return f"UNWIND $uids AS uid MATCH (n{label_expr([label])} {{uid: uid}}) DETACH DELETE n"


def _node_by_uid(d: Dialect, label: str = "Entity") -> str:
    return f"MATCH (n{label_expr([label])} {{uid: $uid}}) RETURN n LIMIT 1"


def _node_by_id(d: Dialect) -> str:
    return f"MATCH (n) WHERE {d.node_id('n')} = $id RETURN n"


def _has_relationship(d: Dialect, rel_type: str = "RELATES_TO") -> str:
    pattern = f"(n)-[:{quote_name(rel_type)}]->()"
    return f"MATCH (n) WHERE n.uid = $uid AND {d.exists_pattern(pattern)} RETURN n.uid AS uid"


def _count_nodes(d: Dialect) -> str:
    return "MATCH (n) RETURN count(n) AS count"


def _count_relationships(d: Dialect) -> str:
    return f"MATCH ()-[r]->() RETURN {d.count_relationships('r')} AS count"


def _count_by_label(d: Dialect) -> str:
    return f"MATCH (n) UNWIND {d.labels('n')} AS label RETURN label, count(n) AS count"


def _count_by_label_set(d: Dialect) -> str:
    return f"MATCH (n) RETURN {d.labels('n')} AS labels, count(n) AS count"


def _count_by_type(d: Dialect) -> str:
    return f"MATCH ()-[r]->() RETURN type(r) AS type, {d.count_relationships('r')} AS count"


def _property_keys_by_label(d: Dialect) -> str:
    return (
        f"MATCH (n) WITH n LIMIT $limit UNWIND {d.labels('n')} AS label "
        "UNWIND keys(n) AS key RETURN label, key, collect(n[key])[0] AS example"
    )


def _export_nodes(d: Dialect) -> str:
    i = d.internal_id("n")
    return (
        f"MATCH (n) WHERE {i} > $after RETURN {i} AS id, {d.labels('n')} AS labels, "
        f"properties(n) AS props ORDER BY {i} LIMIT $limit"
    )


def _export_relationships(d: Dialect) -> str:
    i = d.internal_id("r")
    return (
        f"MATCH (a)-[r]->(b) WHERE {i} > $after RETURN {i} AS id, type(r) AS type, "
        f"{d.internal_id('a')} AS start, {d.internal_id('b')} AS end, properties(r) AS props "
        f"ORDER BY {i} LIMIT $limit"
    )


def _sample_nodes(d: Dialect) -> str:
    return (
        "UNWIND $uids AS uid MATCH (n) WHERE n.uid = uid "
        f"RETURN n.uid AS uid, {d.labels('n')} AS labels, properties(n) AS props"
    )


def _ping(d: Dialect) -> str:
    return "RETURN 1 AS ok"


BUILTIN_QUERIES: dict[str, tuple[Callable[..., str], bool]] = {
    "ping": (_ping, True),
    "merge_nodes": (_merge_nodes, False),
    "merge_relationships": (_merge_relationships, False),
    "delete_by_uid": (_delete_by_uid, False),
    "node_by_uid": (_node_by_uid, True),
    "node_by_id": (_node_by_id, True),
    "has_relationship": (_has_relationship, True),
    "count_nodes": (_count_nodes, True),
    "count_relationships": (_count_relationships, True),
    "count_by_label": (_count_by_label, True),
    "count_by_label_set": (_count_by_label_set, True),
    "count_by_type": (_count_by_type, True),
    "property_keys_by_label": (_property_keys_by_label, True),
    "export_nodes": (_export_nodes, True),
    "export_relationships": (_export_relationships, True),
    "sample_nodes": (_sample_nodes, True),
}


def render(name: str, dialect: Dialect, **kwargs: str) -> str:
    """Return the built-in query ``name`` rendered for ``dialect``."""
    return BUILTIN_QUERIES[name][0](dialect, **kwargs)
