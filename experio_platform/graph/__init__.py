"""Graph providers (Neo4j, FalkorDB) behind one interface.

``get_graph()`` returns the active provider; importing this package imports no driver and
connects to nothing (the initdb job imports the outbox model through here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["get_graph", "reset_graph"]

if TYPE_CHECKING:
    from experio_platform.graph.base import BaseGraphProvider


def get_graph(provider: str | None = None) -> BaseGraphProvider:
    """Return the active graph provider (see ``experio_platform.graph.handler.get_graph``)."""
    from experio_platform.graph.handler import get_graph as _get_graph

    return _get_graph(provider)


def reset_graph() -> None:
    """Close and forget the providers this process built."""
    from experio_platform.graph.handler import reset_graph as _reset

    _reset()


def __getattr__(name: str) -> Any:
    # Convenience re-exports, resolved lazily so the package import stays free of side effects.
    lazy = {
        "GraphHealth": "types",
        "GraphNode": "types",
        "GraphRelationship": "types",
        "GraphPath": "types",
        "QueryResult": "types",
        "WriteStats": "types",
        "SchemaSpec": "base",
        "IndexSpec": "base",
        "GraphError": "exceptions",
        "GraphUnavailable": "exceptions",
        "GraphTimeout": "exceptions",
        "GraphTransientError": "exceptions",
        "GraphConstraintError": "exceptions",
        "GraphQueryError": "exceptions",
        "GraphAuthError": "exceptions",
        "GraphValueError": "exceptions",
    }
    if name in lazy:
        from importlib import import_module

        return getattr(import_module(f"experio_platform.graph.{lazy[name]}"), name)
    raise AttributeError(name)
