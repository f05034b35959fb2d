"""Deferred graph writes: nothing is lost while the graph is down.

``write_or_defer(cypher, params)`` runs an idempotent write (a uid-keyed MERGE) now, or — when
the graph is unavailable, or earlier writes are still waiting (order matters: a newer direct
write must not be overwritten by an older replay) — stores it in the ``GraphOutbox`` table.
``replay()`` applies pending entries in id order against the active provider; one replay at a
time (a PostgreSQL advisory lock); it stops at the first unavailability (the rest waits for the
next run), parks an entry the graph rejects (bad Cypher, constraint, bad value) or that failed
GRAPH_OUTBOX_MAX_ATTEMPTS times, and continues. Replaying an applied entry again is harmless
(MERGE), which is what makes a crash between "written" and "marked applied" safe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from experio_platform.graph.exceptions import (
    GraphAuthError,
    GraphError,
    GraphQueryError,
    GraphTimeout,
    GraphTransientError,
    GraphUnavailable,
    sanitize,
)
from experio_platform.graph.types import QueryResult
from experio_platform.graph.values import canonical_params

__all__ = ["ReplayReport", "WriteOutcome", "defer", "pending_count", "replay", "write_or_defer"]

# Any stable 64-bit number; names the "one replay at a time" advisory lock.
_REPLAY_LOCK_ID = 0x6772617068_0001
_MERGE = re.compile(r"\bMERGE\b", re.IGNORECASE)
_NON_IDEMPOTENT = re.compile(r"\bCREATE\b(?!\s+(INDEX|CONSTRAINT))", re.IGNORECASE)


@dataclass(frozen=True)
class WriteOutcome:
    """What ``write_or_defer`` did: ran it (``result``) or deferred it (``entry_id``)."""

    deferred: bool
    result: QueryResult | None = None
    entry_id: int | None = None
    reason: str = ""


@dataclass
class ReplayReport:
    applied: int = 0
    parked: int = 0
    failed: int = 0
    remaining: int = 0
    stopped: str = ""  # why replay stopped early ("" when it drained what it took)
    busy: bool = False  # another replay held the lock
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_idempotent(cypher: str) -> None:
    if not _MERGE.search(cypher) or _NON_IDEMPOTENT.search(cypher):
        raise GraphQueryError(
            "Only idempotent writes can be deferred: the statement must MERGE on a uid and "
            "must not CREATE (a replay may run it twice).",
            hint="Write it as UNWIND $rows AS row MERGE (n:Label {uid: row.uid}) SET n += ...",
        )


def defer(
    cypher: str, params: Mapping[str, Any] | None = None, *, key: str = "", provider: str = ""
) -> int:
    """Store an idempotent write in the outbox; return the entry id.

    Raises:
        GraphQueryError: the statement is not an idempotent MERGE.
        GraphValueError: a parameter cannot be stored (checked now, not at replay).
    """
    from experio_platform.graph.models import GraphOutbox

    _check_idempotent(cypher)
    entry = GraphOutbox.objects.create(
        cypher=cypher, params=canonical_params(params), key=key[:200], provider=provider
    )
    return entry.pk


def pending_count() -> int:
    from experio_platform.graph.models import GraphOutbox

    return GraphOutbox.objects.filter(status=GraphOutbox.Status.PENDING).count()


def write_or_defer(
    cypher: str,
    params: Mapping[str, Any] | None = None,
    *,
    key: str = "",
    graph: Any = None,
    timeout: float | None = None,
) -> WriteOutcome:
    """Run an idempotent write now, or defer it to the outbox when the graph is unavailable.

    Errors the graph raises for the write itself (bad Cypher, constraint) propagate: deferring
    them would only park them later.
    """
    from experio_platform.graph import get_graph

    _check_idempotent(cypher)
    graph = graph or get_graph()
    if pending_count():
        entry = defer(cypher, params, key=key, provider=graph.name)
        return WriteOutcome(True, None, entry, "earlier writes are still waiting in the outbox")
    try:
        result = graph.run(cypher, params, timeout=timeout, idempotent=True)
    except (GraphUnavailable, GraphTimeout, GraphTransientError) as exc:
        entry = defer(cypher, params, key=key, provider=graph.name)
        return WriteOutcome(True, None, entry, exc.message)
    return WriteOutcome(False, result, None)


@contextlib.contextmanager
def _replay_lock() -> Iterator[bool]:
    from django.db import connection

    if connection.vendor != "postgresql":
        yield True  # SQLite (dev): one process anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_REPLAY_LOCK_ID])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_REPLAY_LOCK_ID])


def replay(
    *, limit: int | None = None, graph: Any = None, max_attempts: int | None = None
) -> ReplayReport:
    """Apply pending outbox entries in order; see the module docstring for the rules."""
    from django.utils import timezone

    from experio_platform.conf import platform_settings as ps
    from experio_platform.graph import get_graph
    from experio_platform.graph.models import GraphOutbox

    limit = limit or int(ps.GRAPH_OUTBOX_BATCH)
    max_attempts = max_attempts or int(ps.GRAPH_OUTBOX_MAX_ATTEMPTS)
    report = ReplayReport()
    pending = GraphOutbox.objects.filter(status=GraphOutbox.Status.PENDING)
    with _replay_lock() as got:
        if not got:
            report.busy = True
            report.remaining = pending.count()
            return report
        graph = graph or get_graph()
        for entry in list(pending.order_by("id")[:limit]):
            try:
                graph.run(entry.cypher, entry.params, idempotent=True)
            except (GraphUnavailable, GraphTimeout, GraphTransientError, GraphAuthError) as exc:
                # Not the entry's fault: keep it (and everything after it) for the next run,
                # unless it keeps failing on a graph that answers everything else.
                entry.attempts += 1
                entry.last_error = exc.message
                if entry.attempts >= max_attempts and isinstance(exc, GraphTransientError):
                    entry.status = GraphOutbox.Status.PARKED
                    report.parked += 1
                else:
                    report.failed += 1
                entry.save(update_fields=["attempts", "last_error", "status"])
                report.stopped = exc.message
                report.errors.append(f"#{entry.pk}: {exc.message}")
                break
            except GraphError as exc:
                # The graph rejects this entry itself: park it with its error, go on.
                entry.attempts += 1
                entry.status = GraphOutbox.Status.PARKED
                entry.last_error = exc.message
                entry.save(update_fields=["attempts", "last_error", "status"])
                report.parked += 1
                report.errors.append(f"#{entry.pk} parked: {exc.message}")
                continue
            except Exception as exc:  # a bug must not block the queue forever
                entry.attempts += 1
                entry.last_error = sanitize(f"{type(exc).__name__}: {exc}")
                if entry.attempts >= max_attempts:
                    entry.status = GraphOutbox.Status.PARKED
                    report.parked += 1
                entry.save(update_fields=["attempts", "last_error", "status"])
                report.errors.append(f"#{entry.pk}: {entry.last_error}")
                report.stopped = entry.last_error
                break
            entry.status = GraphOutbox.Status.APPLIED
            entry.applied_at = timezone.now()
            entry.save(update_fields=["status", "applied_at"])
            report.applied += 1
        keep = dt.timedelta(days=float(ps.GRAPH_OUTBOX_KEEP_DAYS))
        GraphOutbox.objects.filter(
            status=GraphOutbox.Status.APPLIED, applied_at__lt=timezone.now() - keep
        ).delete()
    report.remaining = pending.count()
    return report


def requeue_parked(ids: list[int] | None = None) -> int:
    """Move parked entries (all, or ``ids``) back to pending; return how many."""
    from experio_platform.graph.models import GraphOutbox

    parked = GraphOutbox.objects.filter(status=GraphOutbox.Status.PARKED)
    if ids:
        parked = parked.filter(pk__in=ids)
    return parked.update(status=GraphOutbox.Status.PENDING, attempts=0, last_error="")
