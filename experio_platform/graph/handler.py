"""One provider per process per configuration: ``get_graph()``.

The configuration comes from the settings store (``experio_platform.config.get``): keys
GRAPH_PROVIDER, NEO4J_URI/USER/PASSWORD/DATABASE, FALKOR_URI/PASSWORD/GRAPH. Each call reads
them (the store caches) and compares with the live provider's frozen config: a change builds a
NEW provider (the live one is never mutated; in-flight calls on it finish) and the previous one
is closed once an in-flight call on it must have ended (its connect timeout plus its query
timeout times its retry attempts), by the next ``get_graph()`` call after that. Nothing
connects here: providers connect on first use.
After ``os.fork`` the child forgets every native client (the parent's sockets are not its own).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from django.utils.module_loading import import_string

from experio_platform.exceptions import ConfigurationError
from experio_platform.graph.base import BaseGraphProvider, GraphConfig

__all__ = ["current_config", "get_graph", "provider_class", "reset_graph"]

STORE_KEYS = (
    "GRAPH_PROVIDER",
    "NEO4J_URI",
    "NEO4J_USER",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
    "FALKOR_URI",
    "FALKOR_PASSWORD",
    "FALKOR_GRAPH",
)
DEFAULT_URIS = {"neo4j": "bolt://localhost:7687", "falkordb": "redis://localhost:6379"}
DEFAULT_FALKOR_GRAPH = "experio"

_lock = threading.Lock()
_current: BaseGraphProvider | None = None
# Retired providers and the monotonic time after which no call can still be using them.
_retired: list[tuple[float, BaseGraphProvider]] = []
_fork_hook_registered = False


def _store(key: str) -> Any:
    from experio_platform import config

    value = config.get(key)
    return None if value in ("", None) else value


def current_config(provider: str | None = None) -> GraphConfig:
    """Return the GraphConfig the settings store describes now (``provider`` overrides)."""
    from experio_platform.conf import platform_settings as ps

    # The store's own default for GRAPH_PROVIDER is "neo4j"; the literal covers a store
    # that answers None (e.g. the placeholder before the settings issue landed).
    name = str(provider or _store("GRAPH_PROVIDER") or "neo4j").strip().lower()
    common: dict[str, Any] = {
        "connect_timeout": float(ps.GRAPH_CONNECT_TIMEOUT),
        "query_timeout": float(ps.GRAPH_QUERY_TIMEOUT),
        "retry_attempts": int(ps.GRAPH_RETRY_ATTEMPTS),
        "retry_base_delay": float(ps.GRAPH_RETRY_BASE_DELAY),
        "retry_max_delay": float(ps.GRAPH_RETRY_MAX_DELAY),
        "breaker_cooldown": float(ps.GRAPH_BREAKER_COOLDOWN),
        "batch_size": int(ps.GRAPH_BATCH_SIZE),
        "max_pool_size": int(ps.GRAPH_MAX_POOL_SIZE),
    }
    if name == "neo4j":
        return GraphConfig(
            provider=name,
            uri=str(_store("NEO4J_URI") or DEFAULT_URIS["neo4j"]),
            user=_store("NEO4J_USER"),
            password=_store("NEO4J_PASSWORD"),
            database=_store("NEO4J_DATABASE"),
            dialect=str(ps.GRAPH_NEO4J_DIALECT),
            **common,
        )
    return GraphConfig(
        provider=name,
        uri=str(_store("FALKOR_URI") or DEFAULT_URIS.get(name, DEFAULT_URIS["falkordb"])),
        password=_store("FALKOR_PASSWORD"),
        database=str(_store("FALKOR_GRAPH") or DEFAULT_FALKOR_GRAPH),
        transactions=str(ps.GRAPH_FALKOR_TRANSACTIONS),
        **common,
    )


def _grace(provider: BaseGraphProvider) -> float:
    # The longest a call that started on it can still run (each retry waits for its answer).
    cfg = provider.config
    return cfg.connect_timeout + cfg.query_timeout * max(1, cfg.retry_attempts)


def _close_expired(now: float) -> None:
    # Called with _lock held.
    keep = []
    for until, old in _retired:
        if until <= now:
            old.close()
        else:
            keep.append((until, old))
    _retired[:] = keep


def provider_class(name: str) -> type[BaseGraphProvider]:
    """Return the provider class registered under ``name`` in GRAPH_PROVIDERS."""
    from experio_platform.conf import platform_settings as ps

    providers = ps.GRAPH_PROVIDERS or {}
    if name not in providers:
        raise ConfigurationError(
            f"GRAPH_PROVIDER is {name!r}, which is not one of {sorted(providers)}.",
            hint="Set GRAPH_PROVIDER in the settings store to 'neo4j' or 'falkordb'.",
        )
    try:
        return import_string(providers[name])
    except ImportError as exc:
        raise ConfigurationError(
            f'EXPERIO_PLATFORM["GRAPH_PROVIDERS"][{name!r}] names {providers[name]!r}, which '
            f"cannot be imported: {exc}",
            hint="Fix the dotted path.",
        ) from exc


def build_provider(config: GraphConfig) -> BaseGraphProvider:
    """Return a new, unconnected provider for ``config``."""
    return provider_class(config.provider)(config)


def get_graph(provider: str | None = None) -> BaseGraphProvider:
    """Return the active graph provider (built lazily; it connects on first use).

    Args:
        provider: force "neo4j" or "falkordb" instead of the store's GRAPH_PROVIDER
            (graph_migrate uses this for its source and target).

    Raises:
        ConfigurationError: GRAPH_PROVIDER names an unknown provider.
    """
    global _current
    _register_fork_hook()
    config = current_config(provider)
    if _retired and _retired[0][0] <= time.monotonic():
        with _lock:
            _close_expired(time.monotonic())
    live = _current
    if provider is None and live is not None and live.config == config:
        return live
    if provider is not None:
        return build_provider(config)
    with _lock:
        live = _current
        if live is not None and live.config == config:
            return live
        fresh = build_provider(config)
        # The provider being replaced may still be in use: it is closed after its grace.
        now = time.monotonic()
        _close_expired(now)
        if live is not None:
            _retired.append((now + _grace(live), live))
        _current = fresh
        return fresh


def reset_graph() -> None:
    """Close and forget every provider this process built (tests, settings changes)."""
    global _current
    with _lock:
        for old in [*(p for _, p in _retired), *([_current] if _current else [])]:
            old.close()
        _retired.clear()
        _current = None


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    for provider in [*(p for _, p in _retired), *([_current] if _current else [])]:
        provider.drop_client()


def _register_fork_hook() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered:
        _fork_hook_registered = True
        os.register_at_fork(after_in_child=_after_fork_in_child)
