"""Neo4j provider over the official ``neo4j`` driver (Bolt).

Why the settings: the driver is lazy (no I/O at construction) but ``execute_query`` retries for
``max_transaction_retry_time`` (30 s by default; 33.7 s measured against a down server), so it
is set to 0 and the provider does its own bounded retries; ``connection_timeout`` bounds both
the TCP connect and the Bolt handshake; ``liveness_check_timeout`` makes the pool test idle
connections before reuse (a restarted server leaves dead sockets behind). Reads use READ
routing (``routing_=READ`` / ``default_access_mode=READ``). ``transaction()`` is a real
transaction. Against FalkorDB's Bolt endpoint (tests here) set GRAPH_NEO4J_DIALECT to
"neo4j-compat": that server calls itself Neo4j 5.13 but lacks ``elementId()``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from experio_platform.graph.base import BaseGraphProvider, IndexSpec, SchemaAction, Transaction
from experio_platform.graph.dialect import Neo4jCompatDialect, Neo4jDialect
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
from experio_platform.graph.types import (
    GraphHealth,
    GraphNode,
    GraphPath,
    GraphRelationship,
    QueryResult,
    WriteStats,
)
from experio_platform.graph.values import canonical_params

__all__ = ["Neo4jProvider"]

_DIALECTS = {"neo4j": Neo4jDialect(), "neo4j-compat": Neo4jCompatDialect()}


class Neo4jProvider(BaseGraphProvider):
    """Neo4j through ``neo4j`` (``NEO4J_URI``, ``NEO4J_USER``, ``NEO4J_PASSWORD``,
    ``NEO4J_DATABASE``)."""

    name = "neo4j"
    driver_module = "neo4j"
    # The health probe's own driver and the timeout it was built for (see _health_driver).
    _probe: tuple[float, Any] | None = None

    @property
    def dialect(self) -> Neo4jDialect:
        return _DIALECTS.get(self.config.dialect or "neo4j", _DIALECTS["neo4j"])

    def _driver_kwargs(self, connect_timeout: float) -> dict[str, Any]:
        auth = None
        if self.config.user:
            auth = (self.config.user, self.config.password or "")
        return {
            "auth": auth,
            "connection_timeout": connect_timeout,
            # Also the Bolt handshake deadline in the driver: a hung server fails in time.
            "connection_acquisition_timeout": connect_timeout,
            "max_transaction_retry_time": 0.0,
            "liveness_check_timeout": 0.0,
            "max_connection_pool_size": self.config.max_pool_size,
            "keep_alive": True,
        }

    def _connect(self) -> Any:
        try:
            import neo4j
        except ImportError as exc:
            raise GraphQueryError(
                "The neo4j package is not installed.",
                hint="pip install 'experio-platform[neo4j]'.",
            ) from exc
        try:
            # Lazy: no I/O here; the first query connects.
            return neo4j.GraphDatabase.driver(
                self.config.uri, **self._driver_kwargs(self.config.connect_timeout)
            )
        except Exception as exc:
            raise self._map_error(exc, "driver") from exc

    def _close_client(self, client: Any) -> None:
        client.close()

    def _run(
        self, client: Any, cypher: str, params: dict[str, Any], read_only: bool, timeout: float
    ) -> QueryResult:
        import neo4j

        started = time.perf_counter()
        try:
            eager = client.execute_query(
                neo4j.Query(cypher, timeout=timeout),
                params,
                routing_=neo4j.RoutingControl.READ if read_only else neo4j.RoutingControl.WRITE,
                database_=self.config.database or None,
            )
        except Exception as exc:
            raise self._map_error(exc, "query") from exc
        return _result(eager.keys, eager.records, eager.summary.counters, started)

    # ---- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        self.breaker.before_call(self.safe_target)
        client = self.client()
        try:
            session = client.session(database=self.config.database or None)
            tx = session.begin_transaction(timeout=self.config.query_timeout)
        except Exception as exc:
            error = self._map_error(exc, "begin")
            self.breaker.record_failure(error)
            raise error from exc
        try:
            yield _Neo4jTx(self, tx)
            try:
                tx.commit()
            except Exception as exc:
                raise self._map_error(exc, "commit") from exc
        except BaseException:
            try:
                if not tx.closed():
                    tx.rollback()
            except Exception:  # noqa: S110 - the original error is what matters
                pass
            raise
        finally:
            session.close()

    # ---- schema -------------------------------------------------------------------------------
    def _ensure_index(self, spec: IndexSpec) -> SchemaAction:
        # CREATE ... IF NOT EXISTS is idempotent; counters tell whether anything was created.
        if spec.unique and not spec.relationship:
            ddl = self.dialect.create_unique_constraint(spec.label, spec.property)
            kind = "constraint"
        else:
            ddl = self.dialect.create_index(
                spec.label, spec.property, relationship=spec.relationship
            )
            kind = "index"
        result = self._run(self.client(), ddl or "", {}, False, self.config.query_timeout)
        created = result.stats.indexes_added or result.stats.constraints_added
        if kind == "index":
            self._run(self.client(), "CALL db.awaitIndexes(300)", {}, False, 310)
        return SchemaAction(kind, spec.label, spec.property, "created" if created else "unchanged")

    def schema(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "indexes": list(self.run(self.dialect.list_indexes(), read_only=True).records),
            "constraints": list(self.run(self.dialect.list_constraints(), read_only=True).records),
        }

    # ---- health -------------------------------------------------------------------------------
    def _health(self, timeout: float) -> GraphHealth:
        started = time.perf_counter()
        driver = self._health_driver(timeout)
        try:
            info = driver.get_server_info()
        except Exception as exc:
            # Forget the probe driver: its pool may hold a dead connection.
            self._drop_health_driver(driver)
            raise self._map_error(exc, "health") from exc
        latency = round((time.perf_counter() - started) * 1000, 3)
        return GraphHealth(True, latency, None, str(info.agent))

    def _health_driver(self, timeout: float) -> Any:
        # A driver of its own (one connection, kept between probes) whose connect, handshake
        # and acquisition deadlines are the probe's timeout. Kept rather than rebuilt: a new
        # Bolt connection per probe costs a handshake (and FalkorDB's Bolt endpoint hangs
        # every other fresh handshake after a close).
        import neo4j

        with self._lock:
            cached = getattr(self, "_probe", None)
            if cached is not None and cached[0] == timeout:
                return cached[1]
            kwargs = self._driver_kwargs(timeout)
            kwargs.update(max_connection_pool_size=1, connection_acquisition_timeout=timeout)
            driver = neo4j.GraphDatabase.driver(self.config.uri, **kwargs)
            self._probe = (timeout, driver)
        if cached is not None:
            cached[1].close()
        return driver

    def _drop_health_driver(self, driver: Any) -> None:
        with self._lock:
            cached = getattr(self, "_probe", None)
            if cached is not None and cached[1] is driver:
                self._probe = None
        driver.close()

    def drop_client(self) -> None:
        super().drop_client()
        self._probe = None

    def close(self) -> None:
        probe = getattr(self, "_probe", None)
        self._probe = None
        if probe is not None:
            probe[1].close()
        super().close()

    # ---- errors -------------------------------------------------------------------------------
    def _map_error(self, exc: BaseException, what: str) -> GraphError:
        import neo4j.exceptions as nex

        text = sanitize(f"{type(exc).__name__}: {exc}", self.config.password)
        where = f"Neo4j {self.safe_target}, {what}"
        code = str(getattr(exc, "code", "") or "")
        if isinstance(exc, nex.AuthError) or "Security.Unauthorized" in code:
            return GraphAuthError(
                f"{where}: authentication failed ({text}).",
                hint="Check NEO4J_USER/NEO4J_PASSWORD in the settings store.",
            )
        if isinstance(exc, nex.ServiceUnavailable | nex.SessionExpired):
            return GraphUnavailable(
                f"{where}: cannot reach the server ({text}).",
                hint="The graph may be scaled to zero or down; retry later, or defer the write.",
            )
        if "TransactionTimedOut" in code or "Timeout" in code:
            return GraphTimeout(
                f"{where}: query timed out ({text}).",
                hint="Raise GRAPH_QUERY_TIMEOUT or simplify the query.",
            )
        if isinstance(exc, TimeoutError):
            return GraphTimeout(f"{where}: no answer in time ({text}).")
        if isinstance(exc, nex.TransientError):
            return GraphTransientError(f"{where}: transient server error ({text}).")
        if isinstance(exc, nex.ConstraintError) or "ConstraintValidationFailed" in code:
            return GraphConstraintError(f"{where}: constraint violated ({text}).")
        if isinstance(exc, OSError | ConnectionError):
            return GraphUnavailable(f"{where}: connection failed ({text}).")
        return GraphQueryError(f"{where}: {text}")


class _Neo4jTx(Transaction):
    def __init__(self, provider: Neo4jProvider, tx: Any) -> None:
        self._provider = provider
        self._tx = tx

    def run(self, cypher: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        started = time.perf_counter()
        try:
            result = self._tx.run(cypher, canonical_params(params))
            keys = tuple(result.keys())
            records = list(result)
            summary = result.consume()
        except GraphError:
            raise
        except Exception as exc:
            raise self._provider._map_error(exc, "transaction") from exc
        return _result(keys, records, summary.counters, started)


def _result(keys: Any, records: Any, counters: Any, started: float) -> QueryResult:
    keys = tuple(keys or ())
    out = tuple({k: _convert(v) for k, v in record.items()} for record in records)
    stats = WriteStats(
        nodes_created=counters.nodes_created,
        nodes_deleted=counters.nodes_deleted,
        relationships_created=counters.relationships_created,
        relationships_deleted=counters.relationships_deleted,
        properties_set=counters.properties_set,
        labels_added=counters.labels_added,
        labels_removed=counters.labels_removed,
        indexes_added=counters.indexes_added,
        indexes_removed=counters.indexes_removed,
        constraints_added=counters.constraints_added,
        constraints_removed=counters.constraints_removed,
    )
    return QueryResult(out, keys, stats, (time.perf_counter() - started) * 1000)


def _convert(value: Any) -> Any:
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        return _node(value)
    if isinstance(value, Relationship):
        return _rel(value)
    if isinstance(value, Path):
        return GraphPath(
            tuple(_node(n) for n in value.nodes), tuple(_rel(r) for r in value.relationships)
        )
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _convert(v) for k, v in value.items()}
    to_native = getattr(value, "to_native", None)
    if to_native is not None:  # neo4j.time types
        return to_native()
    return value


def _node(node: Any) -> GraphNode:
    return GraphNode(str(node.element_id), tuple(sorted(node.labels)), dict(node.items()))


def _rel(rel: Any) -> GraphRelationship:
    start = rel.start_node.element_id if rel.start_node is not None else ""
    end = rel.end_node.element_id if rel.end_node is not None else ""
    return GraphRelationship(
        str(rel.element_id), str(rel.type), str(start), str(end), dict(rel.items())
    )
