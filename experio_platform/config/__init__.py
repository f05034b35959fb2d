"""The Postgres-backed settings store: a registry of keys, a read API, seeding.

Public API::

    from experio_platform import config

    config.get("GRAPH_PROVIDER")          # typed value: row > CONFIG_OVERRIDES > default
    config.set("NEO4J_URI", "bolt://db:7687", source="cli")   # tests, scripts
    config.delete("NEO4J_URI")            # back to the override/default
    config.clear_cache()                  # drop this process's snapshot

See docs/config.md. Importing this package has no side effects; the functions import the
models lazily so the package can be imported before Django's app registry is ready.
"""

from __future__ import annotations

from typing import Any

from experio_platform.config.registry import (
    ENV_MANAGED,
    SEED_ONCE,
    ConfigKey,
    ConfigValueError,
    UnknownKeyError,
)

__all__ = [
    "ENV_MANAGED",
    "SEED_ONCE",
    "ConfigKey",
    "ConfigValueError",
    "UnknownKeyError",
    "clear_cache",
    "delete",
    "get",
    "get_many",
    "set",
]


def get(key: str) -> Any:
    """Return the current value of the settings-store key ``key`` (see ``store.get``)."""
    from experio_platform.config import store

    return store.get(key)


def get_many(keys: list[str] | None = None) -> dict[str, Any]:
    """Return ``{key: get(key)}`` for ``keys`` (default: every registry key)."""
    from experio_platform.config import store

    return store.get_many(keys)


def set(key: str, value: Any, *, source: str = "cli", actor: str = "") -> bool:
    """Write ``key`` (validated, logged, version bumped); return True if it changed."""
    from experio_platform.config import store

    return store.set(key, value, source=source, actor=actor)


def delete(key: str, *, actor: str = "") -> bool:
    """Delete the row of ``key`` so it falls back to the override/default."""
    from experio_platform.config import store

    return store.delete(key, actor=actor)


def clear_cache() -> None:
    """Drop this process's cached snapshot of the store."""
    from experio_platform.config import store

    store.clear_cache()
