"""FalkorDB provider over the native ``falkordb`` client (Redis protocol).

Why the care: ``falkordb.FalkorDB()`` does network I/O in its constructor (``INFO``), so the
client is built lazily in :meth:`_connect`; redis-py's own retries are switched off (they would
multiply the socket timeout on a hung server) because the provider retries itself; reads use
``GRAPH.RO_QUERY``; every query carries FalkorDB's per-query ``timeout`` (milliseconds) and the
socket read timeout is the query timeout plus a margin, so a hung server surfaces as
GraphTimeout instead of a hang. Health never queries the graph: a read on a missing graph
creates it, so it asks ``MODULE LIST`` for the module version instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from experio_platform.graph.base import (
    BaseGraphProvider,
    IndexSpec,
    SchemaAction,
    Transaction,
    refused_transaction,
)
from experio_platform.graph.dialect import FalkorDBDialect
from experio_platform.graph.exceptions import (
    GraphAuthError,
    GraphConstraintError,
    GraphError,
    GraphQueryError,
    GraphTimeout,
    GraphTransientError,
    GraphUnavailable,
    sanitize,
)
from experio_platform.graph.falkordb_params import params_header
from experio_platform.graph.types import (
    GraphHealth,
    GraphNode,
    GraphPath,
    GraphRelationship,
    QueryResult,
    WriteStats,
)

__all__ = ["FalkorDBProvider"]

logger = logging.getLogger(__name__)

# Socket read timeout = query timeout + this margin: the server's own per-query timeout should
# fire first and come back as an error reply rather than a cut connection.
_READ_MARGIN = 1.0
_DIALECT = FalkorDBDialect()


class FalkorDBProvider(BaseGraphProvider):
    """FalkorDB through ``falkordb`` (``FALKOR_URI``, ``FALKOR_PASSWORD``, ``FALKOR_GRAPH``)."""

    name = "falkordb"
    driver_module = "falkordb"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._warned_passthrough = False

    @property
    def dialect(self) -> FalkorDBDialect:
        return _DIALECT

    @property
    def graph_name(self) -> str:
        return self.config.database or "experio"

    # ---- connection ---------------------------------------------------------------------------
    def _redis_kwargs(self, connect_timeout: float, read_timeout: float) -> dict[str, Any]:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": read_timeout,
            "decode_responses": True,
            # The provider retries (bounded, jittered, reads/idempotent writes only).
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
        }
        if self.config.password:
            kwargs["password"] = self.config.password
        if self.config.user:
            kwargs["username"] = self.config.user
        return kwargs

    def _url(self) -> str:
        uri = self.config.uri
        for prefix, replacement in (("falkor://", "redis://"), ("falkors://", "rediss://")):
            if uri.startswith(prefix):
                uri = replacement + uri[len(prefix) :]
        return uri

    def _connect(self) -> Any:
        try:
            import redis
            from falkordb import FalkorDB
        except ImportError as exc:
            raise GraphQueryError(
                "The falkordb package is not installed.",
                hint="pip install 'experio-platform[falkordb]'.",
            ) from exc
        pool = None
        try:
            pool = redis.ConnectionPool.from_url(
                self._url(),
                max_connections=self.config.max_pool_size,
                **self._redis_kwargs(
                    self.config.connect_timeout, self.config.query_timeout + _READ_MARGIN
                ),
            )
            db = FalkorDB(connection_pool=pool)  # does I/O (INFO): raises when down
        except Exception as exc:
            if pool is not None:
                pool.disconnect()  # nothing half-built is kept, not even sockets
            raise self._map_error(exc, "connect") from exc
        return db.select_graph(self.graph_name)

    def _close_client(self, client: Any) -> None:
        client.client.connection.close()

    # ---- queries ------------------------------------------------------------------------------
    def _run(
        self, client: Any, cypher: str, params: dict[str, Any], read_only: bool, timeout: float
    ) -> QueryResult:
        started = time.perf_counter()
        timeout_ms = max(1, int(timeout * 1000))
        if params:
            # Same text as the client's own header, built faster (see falkordb_params).
            cypher = params_header(params) + cypher
            params = {}
        try:
            if read_only:
                try:
                    raw = client.ro_query(cypher, params or None, timeout=timeout_ms)
                except Exception as exc:
                    # GRAPH.RO_QUERY fails on a graph that does not exist yet, while
                    # GRAPH.QUERY silently creates it. Create it empty on purpose and answer
                    # the read against it, so a fresh graph reads as an empty one.
                    if "empty key" not in str(exc):
                        raise
                    client.query("RETURN 0", timeout=timeout_ms)
                    raw = client.ro_query(cypher, params or None, timeout=timeout_ms)
            else:
                raw = client.query(cypher, params or None, timeout=timeout_ms)
        except Exception as exc:
            raise self._map_error(exc, "query") from exc
        keys = tuple(_header_name(h) for h in raw.header)
        plain = _PLAIN
        records = tuple(
            {k: v if type(v) in plain else _convert(v) for k, v in zip(keys, row, strict=False)}
            for row in raw.result_set
        )
        stats = WriteStats(
            nodes_created=int(raw.nodes_created),
            nodes_deleted=int(raw.nodes_deleted),
            relationships_created=int(raw.relationships_created),
            relationships_deleted=int(raw.relationships_deleted),
            properties_set=int(raw.properties_set),
            labels_added=int(raw.labels_added),
            labels_removed=int(getattr(raw, "labels_removed", 0)),
            indexes_added=int(raw.indices_created),
            indexes_removed=int(raw.indices_deleted),
        )
        return QueryResult(records, keys, stats, (time.perf_counter() - started) * 1000)

    def _fetch_rows(
        self, client: Any, cypher: str, params: dict[str, Any], read_only: bool, timeout: float
    ) -> list[tuple[Any, ...]]:
        # graph_migrate's hot path. The client's QueryResult calls a parser per value and
        # _run then builds a dict per row: on a 30,000-row relationship window that was ~300 ms
        # against ~50 ms for reading the compact reply straight into tuples here. Plain values
        # (string, integer, double, boolean, null, list, map) are decoded inline; anything
        # else (nodes, edges, paths, points, temporal values) goes through the client's own
        # parse_scalar and _convert, so every value equals what _run returns.
        timeout_ms = max(1, int(timeout * 1000))
        if params:
            cypher = params_header(params) + cypher
        command = "GRAPH.RO_QUERY" if read_only else "GRAPH.QUERY"
        args = (command, client.name, cypher, "--compact", "timeout", timeout_ms)
        try:
            try:
                reply = client.execute_command(*args)
            except Exception as exc:
                if not read_only or "empty key" not in str(exc):
                    raise
                client.query("RETURN 0", timeout=timeout_ms)  # as in _run: a missing graph
                reply = client.execute_command(*args)  # reads as an empty one
            _raise_reply_error(reply)
        except Exception as exc:
            raise self._map_error(exc, "query") from exc
        if len(reply) < 3:  # statistics only: the statement returns nothing
            return []
        cell = _cell_parser(client)
        direct = _DIRECT_CODES
        return [tuple([c[1] if c[0] in direct else cell(c) for c in row]) for row in reply[1]]

    def command(self, *args: Any, timeout: float | None = None) -> Any:
        """Run a raw FalkorDB command (e.g. ``GRAPH.EXPLAIN``) through the breaker."""

        def call() -> Any:
            try:
                return self.client().execute_command(*args)
            except GraphError:
                raise
            except Exception as exc:
                raise self._map_error(exc, args[0] if args else "command") from exc

        return self._guarded(
            call,
            attempts=self.config.retry_attempts,
            budget=timeout or self.config.query_timeout,
        )

    def explain(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[str]:
        """Return the plan of ``cypher`` via ``GRAPH.EXPLAIN`` (never executes it)."""
        from experio_platform.graph.values import canonical_params

        client = self.client()
        header = client._build_params_header(canonical_params(params) or None)
        plan = self.command("GRAPH.EXPLAIN", self.graph_name, header + cypher)
        return [str(line) for line in plan]

    def delete_graph(self) -> None:
        """Delete the whole graph (used by migrate --clear-target and tests)."""
        try:
            self.command("GRAPH.DELETE", self.graph_name)
        except GraphQueryError as exc:
            if "empty key" not in exc.message.lower() and "invalid" not in exc.message.lower():
                raise

    # ---- schema -------------------------------------------------------------------------------
    def _ensure_index(self, spec: IndexSpec) -> SchemaAction:
        client = self.client()
        label, prop = spec.label, spec.property
        created = "unchanged"
        try:
            client.query(self.dialect.create_index(label, prop, relationship=spec.relationship))
            created = "created"
        except Exception as exc:
            if "already indexed" not in str(exc).lower():
                raise self._map_error(exc, "CREATE INDEX") from exc
        if not spec.unique:
            return SchemaAction("index", label, prop, created)
        # Unique constraints are a command, not Cypher, and build asynchronously: follow the
        # status until OPERATIONAL or FAILED (e.g. existing duplicates).
        entity = "RELATIONSHIP" if spec.relationship else "NODE"
        action = "created"
        try:
            client.execute_command(
                "GRAPH.CONSTRAINT", "CREATE", self.graph_name, "UNIQUE", entity, label,
                "PROPERTIES", 1, prop,
            )  # fmt: skip
        except Exception as exc:
            if "already exists" not in str(exc).lower():
                raise self._map_error(exc, "GRAPH.CONSTRAINT CREATE") from exc
            action = "unchanged"
        deadline = time.monotonic() + self.config.query_timeout * 3
        while True:
            status = self._constraint_status(label, prop, entity)
            if status == "OPERATIONAL":
                return SchemaAction("constraint", label, prop, action)
            if status == "FAILED":
                return SchemaAction(
                    "constraint", label, prop, "failed",
                    f"FalkorDB reports the unique constraint on {label}.{prop} FAILED "
                    "(duplicate values?); drop it, fix the data and run again.",
                )  # fmt: skip
            if time.monotonic() > deadline:
                raise GraphTimeout(
                    f"Unique constraint on {label}.{prop} still {status} after "
                    f"{self.config.query_timeout * 3:.0f} s.",
                    hint="Run ensure_schema again later; FalkorDB builds constraints in the "
                    "background.",
                )
            time.sleep(0.05)

    def _constraint_status(self, label: str, prop: str, entity: str) -> str | None:
        rows = self.run(self.dialect.list_constraints(), read_only=True).records
        for row in rows:
            if (
                row["label"] == label
                and list(row["properties"]) == [prop]
                and str(row["type"]).upper() == "UNIQUE"
                and str(row["entitytype"]).upper() == entity
            ):
                return str(row["status"]).upper()
        return None

    def schema(self) -> dict[str, list[dict[str, Any]]]:
        """Return the indexes and constraints the server reports."""
        return {
            "indexes": list(self.run(self.dialect.list_indexes(), read_only=True).records),
            "constraints": list(self.run(self.dialect.list_constraints(), read_only=True).records),
        }

    # ---- transactions -------------------------------------------------------------------------
    def transaction(self) -> Any:
        if self.config.transactions != "passthrough":
            return refused_transaction(self)
        return self._passthrough()

    @contextmanager
    def _passthrough(self) -> Iterator[Transaction]:
        if not self._warned_passthrough:
            self._warned_passthrough = True
            logger.warning(
                "FalkorDB has no multi-statement transactions: each statement in "
                "graph.transaction() applies at once and nothing rolls back."
            )
        yield _PassthroughTx(self)

    # ---- health -------------------------------------------------------------------------------
    def _health(self, timeout: float) -> GraphHealth:
        import redis

        started = time.perf_counter()
        conn = redis.Redis.from_url(self._url(), **self._redis_kwargs(timeout, timeout))
        try:
            modules = conn.execute_command("MODULE", "LIST")
        except Exception as exc:
            raise self._map_error(exc, "health") from exc
        finally:
            conn.close()
        version = None
        for module in modules or []:
            entry = _pairs(module)
            if entry.get("name") == "graph":
                version = _format_version(entry.get("ver"))
        latency = round((time.perf_counter() - started) * 1000, 3)
        if version is None:
            return GraphHealth(
                False, latency, "The server answers but has no FalkorDB (graph) module.", None
            )
        return GraphHealth(True, latency, None, f"FalkorDB {version}")

    # ---- errors -------------------------------------------------------------------------------
    def _map_error(self, exc: BaseException, what: str) -> GraphError:
        import redis.exceptions as rex

        text = sanitize(f"{type(exc).__name__}: {exc}", self.config.password)
        where = f"FalkorDB {self.safe_target}, {what}"
        lowered = str(exc).lower()
        if isinstance(exc, rex.AuthenticationError) or any(
            s in lowered for s in ("noauth", "wrongpass", "invalid password", "invalid username")
        ):
            return GraphAuthError(
                f"{where}: authentication failed ({text}).",
                hint="Check FALKOR_PASSWORD in the settings store.",
            )
        if isinstance(exc, rex.BusyLoadingError):
            return GraphTransientError(f"{where}: server is loading its data ({text}).")
        if isinstance(exc, rex.TimeoutError | TimeoutError):
            if "connecting" in lowered:
                return GraphUnavailable(
                    f"{where}: connect timed out ({text}).",
                    hint="The graph may be scaled to zero or unreachable; retry later.",
                )
            return GraphTimeout(
                f"{where}: no answer in time ({text}).",
                hint="Raise GRAPH_QUERY_TIMEOUT or simplify the query.",
            )
        if isinstance(exc, rex.ConnectionError | ConnectionError | OSError):
            return GraphUnavailable(
                f"{where}: cannot reach the server ({text}).",
                hint="The graph may be scaled to zero or down; retry later, or defer the write.",
            )
        if "timed out" in lowered or "timeout" in lowered:
            return GraphTimeout(f"{where}: query timed out ({text}).")
        if "constraint" in lowered and ("violat" in lowered or "unique" in lowered):
            return GraphConstraintError(f"{where}: constraint violated ({text}).")
        if any(s in lowered for s in ("busy", "loading", "readonly", "tryagain", "masterdown")):
            return GraphTransientError(f"{where}: transient server state ({text}).")
        if isinstance(exc, ValueError | TypeError):
            return GraphQueryError(f"{where}: invalid parameters ({text}).")
        return GraphQueryError(
            f"{where}: {text}",
            hint="FalkorDB rejects some Neo4j forms; use graph.dialect (see docs/graph.md).",
        )


class _PassthroughTx(Transaction):
    def __init__(self, provider: FalkorDBProvider) -> None:
        self._provider = provider
        self._lock = threading.Lock()

    def run(self, cypher: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        with self._lock:
            return self._provider.run(cypher, params)


def _pairs(flat: Any) -> dict[str, Any]:
    if isinstance(flat, dict):
        return flat
    items = list(flat)
    return {str(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def _format_version(ver: Any) -> str | None:
    try:
        number = int(ver)
    except (TypeError, ValueError):
        return None if ver is None else str(ver)
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def _header_name(item: Any) -> str:
    # The compact header is [[type, name], ...].
    if isinstance(item, list | tuple):
        return str(item[1])
    return str(item)


_PLAIN = frozenset({str, int, float, bool, type(None)})
_DRIVER_TYPES: tuple[type, type, type] | None = None


def _driver_types() -> tuple[type, type, type]:
    # Imported once, on first use (never at module import: the driver is optional).
    global _DRIVER_TYPES
    if _DRIVER_TYPES is None:
        from falkordb.edge import Edge
        from falkordb.node import Node
        from falkordb.path import Path

        _DRIVER_TYPES = (Node, Edge, Path)
    return _DRIVER_TYPES


def _convert(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # the bulk of every result: return at once
        return value
    if kind is list:
        return [v if type(v) in _PLAIN else _convert(v) for v in value]
    if isinstance(value, dict):  # property maps: mostly plain values, skip the call for them
        return {k: v if type(v) in _PLAIN else _convert(v) for k, v in value.items()}
    node, edge, path = _driver_types()
    if kind is node:
        return _node(value)
    if kind is edge:
        return _edge(value)
    if kind is path:
        return GraphPath(
            tuple(_node(n) for n in value.nodes()), tuple(_edge(e) for e in value.edges())
        )
    return value


# Compact reply cells are [type code, value]; 2 = string and 3 = integer arrive decoded.
_DIRECT_CODES = frozenset({2, 3})


def _raise_reply_error(reply: Any) -> None:
    # Errors inside a reply are elements, not raised by redis-py: the client's QueryResult
    # checks the first (query errors) and the last (run-time errors) element the same way.
    from redis.exceptions import ResponseError

    if reply and isinstance(reply[0], ResponseError):
        raise reply[0]
    if reply and isinstance(reply[-1], ResponseError):
        raise reply[-1]


def _cell_parser(graph: Any) -> Any:
    """Return a function decoding one compact ``[code, value]`` cell like ``_run`` does."""
    from falkordb.query_result import parse_scalar

    direct = _DIRECT_CODES

    def cell(item: Any) -> Any:
        code, value = item
        if code == 10:  # map: [key, cell, key, cell, ...]
            return {
                k: v[1] if v[0] in direct else cell(v)
                for k, v in zip(value[::2], value[1::2], strict=True)
            }
        if code == 5:
            return float(value)
        if code == 6:
            return [v[1] if v[0] in direct else cell(v) for v in value]
        if code == 1:
            return None
        if code == 4:
            return value == "true"
        if code in direct:
            return value
        return _convert(parse_scalar(item, graph))

    return cell


def _node(node: Any) -> GraphNode:
    return GraphNode(str(node.id), tuple(sorted(node.labels or ())), dict(node.properties or {}))


def _edge(edge: Any) -> GraphRelationship:
    src = edge.src_node if isinstance(edge.src_node, int) else edge.src_node.id
    dst = edge.dest_node if isinstance(edge.dest_node, int) else edge.dest_node.id
    return GraphRelationship(
        str(edge.id), str(edge.relation), str(src), str(dst), dict(edge.properties or {})
    )
