"""The one result shape every provider returns: the package's own frozen dataclasses.

Providers convert driver objects (``neo4j.Record``/``Node``, ``falkordb.Node``/``Edge``) into
these at the boundary, so callers never see a driver type and both providers compare equal.
Ids are opaque strings (FalkorDB's integer id or Neo4j's element id, as text): use them only
within one query's results, never store them; the app-level ``uid`` property is the stable key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "GraphHealth",
    "GraphNode",
    "GraphPath",
    "GraphRelationship",
    "QueryResult",
    "WriteStats",
]


@dataclass(frozen=True)
class GraphHealth:
    """What ``provider.health(timeout)`` found. ``error`` is sanitised (no credentials)."""

    ok: bool
    latency_ms: float
    error: str | None = None
    server_version: str | None = None


class _Properties:
    """Read a node's or relationship's properties by key, like a dict."""

    properties: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.properties[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)


@dataclass(frozen=True)
class GraphNode(_Properties):
    id: str
    labels: tuple[str, ...]
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphRelationship(_Properties):
    id: str
    type: str
    start_id: str
    end_id: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphPath:
    nodes: tuple[GraphNode, ...]
    relationships: tuple[GraphRelationship, ...]

    def __len__(self) -> int:
        return len(self.relationships)


@dataclass(frozen=True)
class WriteStats:
    """Write counters of one query (or the sum of a batched run)."""

    nodes_created: int = 0
    nodes_deleted: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    properties_set: int = 0
    labels_added: int = 0
    labels_removed: int = 0
    indexes_added: int = 0
    indexes_removed: int = 0
    constraints_added: int = 0
    constraints_removed: int = 0

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def contains_updates(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class QueryResult:
    """Records as dicts (column name -> value) in server order, plus write statistics."""

    records: tuple[dict[str, Any], ...] = ()
    keys: tuple[str, ...] = ()
    stats: WriteStats = field(default_factory=WriteStats)
    elapsed_ms: float = 0.0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def single(self) -> dict[str, Any] | None:
        """Return the only record, or None when there is none (more than one is a bug)."""
        if not self.records:
            return None
        if len(self.records) > 1:
            raise ValueError(f"Expected at most one record, got {len(self.records)}.")
        return self.records[0]

    def value(self, key: str | None = None, default: Any = None) -> Any:
        """Return one column of the first record (the first column when ``key`` is None)."""
        if not self.records:
            return default
        record = self.records[0]
        if key is None:
            return next(iter(record.values()), default)
        return record.get(key, default)

    def column(self, key: str) -> list[Any]:
        return [record.get(key) for record in self.records]
