"""The provider contract (``BaseGraphProvider``) and what every provider shares.

A provider is built from a frozen :class:`GraphConfig` and never connects in its constructor:
the native client is built on first use, behind a lock, and only cached once it works. Public
methods canonicalise parameters, go through the circuit breaker, retry retryable errors for
reads and idempotent writes only, and return the package's dataclasses (``types.py``).
Subclasses implement the underscore methods, which raise only ``GraphError`` subclasses.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from experio_platform.graph.dialect import Dialect
from experio_platform.graph.exceptions import GraphError, GraphQueryError, GraphUnavailable
from experio_platform.graph.resilience import CircuitBreaker, retry_call
from experio_platform.graph.types import GraphHealth, QueryResult, WriteStats
from experio_platform.graph.values import canonical_params

T = TypeVar("T")

__all__ = ["BaseGraphProvider", "GraphConfig", "IndexSpec", "SchemaSpec", "Transaction"]


@dataclass(frozen=True)
class GraphConfig:
    """Everything a provider needs; equal configs mean the same provider instance."""

    provider: str
    uri: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None  # Neo4j database name, or FalkorDB graph name
    connect_timeout: float = 3.0
    query_timeout: float = 10.0
    retry_attempts: int = 3
    retry_base_delay: float = 0.1
    retry_max_delay: float = 1.0
    breaker_cooldown: float = 5.0
    batch_size: int = 2000
    max_pool_size: int = 50
    transactions: str = "refuse"  # FalkorDB only: "refuse" | "passthrough"
    dialect: str | None = None  # Neo4j only: "neo4j" | "neo4j-compat"
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class IndexSpec:
    label: str
    property: str
    unique: bool = False
    relationship: bool = False


@dataclass(frozen=True)
class SchemaSpec:
    """Range indexes and unique constraints the caller needs (``ensure_schema`` input)."""

    indexes: tuple[IndexSpec, ...] = ()

    @classmethod
    def of(cls, *items: tuple[str, str] | tuple[str, str, bool] | IndexSpec) -> SchemaSpec:
        """Build from ``("Label", "prop")`` / ``("Label", "prop", unique)`` tuples."""
        specs = [i if isinstance(i, IndexSpec) else IndexSpec(*i) for i in items]
        return cls(tuple(specs))


@dataclass(frozen=True)
class SchemaAction:
    """What ensure_schema did for one index or constraint."""

    kind: str  # "index" | "constraint"
    label: str
    property: str
    action: str  # "created" | "unchanged" | "failed"
    detail: str = ""


class Transaction:
    """A unit of work: ``tx.run(...)`` inside ``with graph.transaction() as tx``."""

    def run(self, cypher: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        raise NotImplementedError


class BaseGraphProvider(ABC):
    """One graph behind the package's interface; see the module docstring for the rules."""

    name: str = "base"
    #: dotted path of the driver module this provider needs (system check W051)
    driver_module: str = ""

    def __init__(self, config: GraphConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._client: Any = None
        self.breaker = CircuitBreaker(config.breaker_cooldown)
        self.closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.safe_target}>"

    @property
    def safe_target(self) -> str:
        """The server and graph this provider talks to, without credentials."""
        from experio_platform.graph.exceptions import sanitize

        return sanitize(f"{self.config.uri} ({self.config.database or 'default'})")

    # ---- contract: subclasses implement ------------------------------------------------------
    @property
    @abstractmethod
    def dialect(self) -> Dialect:
        """The Cypher dialect of this provider."""

    @abstractmethod
    def _connect(self) -> Any:
        """Build and return the native client (may do I/O); raise GraphError on failure."""

    @abstractmethod
    def _run(
        self, client: Any, cypher: str, params: dict[str, Any], read_only: bool, timeout: float
    ) -> QueryResult:
        """Run one query; raise only GraphError subclasses (driver error as __cause__)."""

    @abstractmethod
    def _health(self, timeout: float) -> GraphHealth:
        """Probe the server within ``timeout`` on a connection of its own; may raise."""

    @abstractmethod
    def _close_client(self, client: Any) -> None:
        """Release the native client's connections."""

    @abstractmethod
    def _ensure_index(self, spec: IndexSpec) -> SchemaAction:
        """Create one range index or unique constraint idempotently."""

    @abstractmethod
    def transaction(self) -> Any:
        """Return a context manager yielding a :class:`Transaction`.

        Neo4j: a real transaction (committed on exit, rolled back on an exception). FalkorDB
        has no multi-statement transactions: GRAPH_FALKOR_TRANSACTIONS decides between
        "refuse" (GraphQueryError) and "passthrough" (each run applies at once; a warning is
        logged once per provider).
        """

    # ---- client lifecycle ---------------------------------------------------------------------
    def client(self) -> Any:
        """Return the native client, building it on first use (under the lock)."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                if self.closed:
                    raise GraphQueryError(
                        f"{self!r} was closed.", hint="Call get_graph() for the live provider."
                    )
                # Assigned only after _connect returned: nothing half-built is cached.
                self._client = self._connect()
            return self._client

    def drop_client(self) -> None:
        """Forget the native client without closing it (after fork: the parent owns it)."""
        self._lock = threading.Lock()
        self._client = None
        self.breaker = CircuitBreaker(self.config.breaker_cooldown)

    def close(self) -> None:
        """Close the native client's connections; later calls raise GraphQueryError."""
        with self._lock:
            client, self._client = self._client, None
            self.closed = True
        if client is not None:
            # Closing a dead connection must not raise.
            with contextlib.suppress(Exception):
                self._close_client(client)

    def reset_connection(self) -> None:
        """Drop the native client so the next call reconnects (after a server restart)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                self._close_client(client)

    # ---- public API ---------------------------------------------------------------------------
    def run(
        self,
        cypher: str,
        params: Mapping[str, Any] | None = None,
        *,
        read_only: bool = False,
        timeout: float | None = None,
        idempotent: bool = False,
        canonical: bool = False,
    ) -> QueryResult:
        """Run one Cypher statement.

        Args:
            cypher: the statement; use ``graph.dialect`` for the fragments that differ.
            params: parameters, canonicalised first (see ``values.py``).
            read_only: route to ``GRAPH.RO_QUERY`` (FalkorDB) / READ access (Neo4j); reads
                are retried on retryable errors.
            timeout: seconds for this query (default GRAPH_QUERY_TIMEOUT).
            idempotent: the write may be retried (e.g. a uid-keyed MERGE).
            canonical: the caller guarantees ``params`` are already canonical (graph_migrate
                converts every value itself); skips the per-value pass on big batches.

        Returns:
            QueryResult with records as dicts and write statistics.

        Raises:
            GraphUnavailable, GraphTimeout, GraphTransientError, GraphConstraintError,
            GraphQueryError (incl. GraphValueError), GraphAuthError.
        """
        return self._call(self._run, cypher, params, read_only, timeout, idempotent, canonical)

    def _call(
        self,
        execute: Callable[[Any, str, dict[str, Any], bool, float], T],
        cypher: str,
        params: Mapping[str, Any] | None,
        read_only: bool,
        timeout: float | None,
        idempotent: bool,
        canonical: bool,
    ) -> T:
        """Canonicalise ``params``, then ``execute`` on the client behind breaker and retries
        (reads and idempotent writes only are retried)."""
        clean = dict(params or {}) if canonical else canonical_params(params)
        budget = timeout if timeout is not None else self.config.query_timeout
        return self._guarded(
            lambda: execute(self.client(), cypher, clean, read_only, budget),
            attempts=self.config.retry_attempts if read_only or idempotent else 1,
            budget=budget,
        )

    # ---- private fast path for bulk copies (graph_migrate) ----------------------------------
    def _rows(
        self,
        cypher: str,
        params: Mapping[str, Any] | None = None,
        *,
        read_only: bool = False,
        timeout: float | None = None,
        idempotent: bool = False,
        canonical: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Run one statement like :meth:`run`; return only its rows, as tuples in RETURN order.

        Not public API: graph_migrate reads and writes hundreds of thousands of rows, where a
        dict per row (and FalkorDB's client-side result objects) cost more than the servers.
        Values are the ones :meth:`run` puts in its records; same breaker, retries and errors.
        """
        return self._call(
            self._fetch_rows, cypher, params, read_only, timeout, idempotent, canonical
        )

    def _fetch_rows(
        self, client: Any, cypher: str, params: dict[str, Any], read_only: bool, timeout: float
    ) -> list[tuple[Any, ...]]:
        """Run one query, return its rows as tuples; a provider may override it for speed."""
        result = self._run(client, cypher, params, read_only, timeout)
        keys = result.keys
        return [tuple(record[key] for key in keys) for record in result.records]

    def _guarded(self, func: Any, *, attempts: int, budget: float) -> Any:
        probe = self.breaker.before_call(self.safe_target)
        deadline = time.monotonic() + budget + self.config.connect_timeout
        try:
            result = retry_call(
                func,
                attempts=attempts,
                base_delay=self.config.retry_base_delay,
                max_delay=self.config.retry_max_delay,
                deadline=deadline,
            )
        except GraphError as exc:
            self.breaker.record_failure(exc, probe)
            if isinstance(exc, GraphUnavailable):
                # Pooled connections to a server that went away would each fail once after
                # it comes back (the driver's own retries are off): start with a clean pool.
                self.reset_connection()
            raise
        except BaseException:
            # Not the graph's answer (a bug, an interrupt): it says nothing about the server,
            # but a probe that never reports back would keep the breaker open for good.
            if probe:
                self.breaker.release_probe()
            raise
        self.breaker.record_success(probe)
        return result

    def run_batched(
        self,
        cypher: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_size: int | None = None,
        param: str = "rows",
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> QueryResult:
        """Run ``cypher`` (which UNWINDs ``$rows``) once per chunk of ``rows``; sum the stats.

        Each chunk is its own statement: a failure leaves the earlier chunks written, so use
        idempotent (uid-keyed MERGE) statements and re-run after a failure.

        Returns:
            QueryResult with every chunk's records and the summed stats.
        """
        size = batch_size or self.config.batch_size
        stats = WriteStats()
        records: list[dict[str, Any]] = []
        keys: tuple[str, ...] = ()
        started = time.perf_counter()
        for chunk in _chunks(rows, size):
            result = self.run(
                cypher, {**(params or {}), param: chunk}, timeout=timeout, idempotent=idempotent
            )
            stats += result.stats
            records.extend(result.records)
            keys = keys or result.keys
        elapsed = (time.perf_counter() - started) * 1000
        return QueryResult(tuple(records), keys, stats, elapsed)

    def ensure_schema(self, spec: SchemaSpec) -> list[SchemaAction]:
        """Create the range indexes and unique constraints of ``spec`` (idempotent).

        Returns one SchemaAction per item ("created", "unchanged" or "failed" with detail).
        Raises GraphUnavailable and the other GraphErrors when the graph cannot be reached.
        """
        actions = []
        for item in spec.indexes:
            actions.append(
                self._guarded(
                    lambda item=item: self._ensure_index(item),
                    attempts=self.config.retry_attempts,
                    budget=self.config.query_timeout * 3,
                )
            )
        return actions

    def health(self, timeout: float) -> GraphHealth:
        """Probe the server within ``timeout`` seconds; never raises.

        Uses a connection of its own with the given timeouts (connect and read), so a health
        check is never slower than asked even when the pool's timeouts are longer, and it
        ignores the circuit breaker (a probe is how the breaker learns the graph is back).
        """
        started = time.perf_counter()
        try:
            result = self._health(timeout)
        except GraphError as exc:
            return GraphHealth(False, _ms(started), exc.message, None)
        except Exception as exc:  # health() must never raise
            from experio_platform.graph.exceptions import sanitize

            message = sanitize(f"{type(exc).__name__}: {exc}", self.config.password)
            return GraphHealth(False, _ms(started), message, None)
        if result.ok:
            self.breaker.reset()
        return result

    def server_version(self, timeout: float | None = None) -> str | None:
        return self.health(timeout or self.config.connect_timeout).server_version


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    if isinstance(rows, Sequence):
        for start in range(0, len(rows), size):
            yield list(rows[start : start + size])
        return
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def refused_transaction(provider: BaseGraphProvider) -> Iterator[Transaction]:
    raise GraphQueryError(
        f"{provider.name} has no multi-statement transactions; refusing transaction().",
        hint=(
            "Write one idempotent statement (UNWIND + MERGE) instead, or set "
            'EXPERIO_PLATFORM["GRAPH_FALKOR_TRANSACTIONS"] = "passthrough" to run each '
            "statement at once without rollback."
        ),
    )
    yield  # pragma: no cover
