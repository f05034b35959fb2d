"""One reconcile pass: observe every ServiceConfiguration, decide, act through the backend.

The row's desired fields are never written here (an operator may edit them mid-pass); the
reconciler writes only observed state, its memory and the pending operation, with
``QuerySet.update`` on those columns. The one exception, keep_alive expiry, is a
compare-and-set on the exact values it read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from experio_platform.scaling.backends import (
    BackendBusy,
    BackendError,
    OutcomeUnknown,
    ScalingBackend,
)
from experio_platform.scaling.lease import LeaderLease
from experio_platform.scaling.metrics import QueueMetricsReader
from experio_platform.scaling.models import (
    Mode,
    ScalingDecision,
    ServiceConfiguration,
    attributed,
)
from experio_platform.scaling.policy import Memory, PolicyConfig, QueueMetrics, decide

logger = logging.getLogger(__name__)


class LostLeadership(Exception):
    """The fencing check failed right before a platform call: stop acting this pass."""


@dataclass
class RowResult:
    key: str
    observed: int | None = None
    desired: int | None = None
    outcome: str = "steady"  # steady, hold (metrics problem), applied, accepted, dry_run, busy,
    # unknown, pending, error, backoff, fenced
    detail: str = ""


@dataclass
class PassReport:
    leader: bool
    epoch: int | None = None
    rows: list[RowResult] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "error")


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class Reconciler:
    """Runs passes; one instance per run_scaler process."""

    def __init__(
        self,
        backend: ScalingBackend,
        metrics: QueueMetricsReader | None,
        *,
        lease: LeaderLease | None = None,
        holder: str = "",
        dry_run: bool = False,
        operation_timeout: float = 600.0,
        backoff_base: float = 30.0,
        backoff_max: float = 600.0,
        retention_days: float = 14,
        clock: Any = time.time,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        self.lease = lease
        self.holder = holder or (lease.holder if lease else "")
        self.dry_run = dry_run
        self.operation_timeout = operation_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retention = timedelta(days=retention_days)
        self.clock = clock
        self._last_prune = 0.0

    # ---- the pass --------------------------------------------------------------------------

    def run_pass(self, only: list[str] | None = None) -> PassReport:
        """Reconcile every row (or ``only`` these keys) once; never raises for one row."""
        if self.lease is not None and not self.lease.acquire_or_renew():
            return PassReport(leader=False)
        report = PassReport(leader=True, epoch=self.lease.epoch if self.lease else None)
        self._prune()
        rows = ServiceConfiguration.objects.all()
        if only:
            rows = rows.filter(key__in=only)
        for row in list(rows):
            try:
                report.rows.append(self.reconcile(row))
            except LostLeadership:
                report.rows.append(RowResult(row.key, outcome="fenced"))
                report.leader = False
                break
            except DatabaseError as exc:
                # A database blip: drop the broken connection, carry on with the next pass.
                logger.warning("run_scaler: database error on %s: %s", row.key, exc)
                close_old_connections()
                report.rows.append(RowResult(row.key, outcome="error", detail=str(exc)))
            except Exception as exc:  # the loop must never die on one row
                logger.exception("run_scaler: unexpected error on %s", row.key)
                self._record_error(row, f"{type(exc).__name__}: {exc}")
                report.rows.append(RowResult(row.key, outcome="error", detail=str(exc)))
        return report

    def _prune(self) -> None:
        now = self.clock()
        if now - self._last_prune < 3600:
            return
        self._last_prune = now
        cutoff = timezone.now() - self.retention
        deleted, _ = ScalingDecision.objects.filter(decided_at__lt=cutoff).delete()
        if deleted:
            logger.info("run_scaler: pruned %s decisions older than %s", deleted, cutoff)

    # ---- one row ---------------------------------------------------------------------------

    def reconcile(self, row: ServiceConfiguration) -> RowResult:
        now = self.clock()
        result = RowResult(row.key)
        if row.next_attempt_at and _ts(row.next_attempt_at) > now:
            result.outcome = "backoff"
            return result
        try:
            state = self.backend.read(row.platform_resource)
        except BackendError as exc:
            self._record_error(row, f"read: {exc}")
            result.outcome, result.detail = "error", str(exc)
            return result
        result.observed = state.replicas
        observed_fields: dict[str, Any] = {
            "observed_replicas": state.replicas,
            "platform_status": state.status[:32],
            "observed_at": _dt(now),
        }

        # Delta discipline: one operation in flight; confirm it by re-reading, never resend.
        op = row.pending_operation
        if op and self.backend.delta:
            age = now - float(op.get("issued_at", 0))
            if state.replicas == op.get("to"):
                observed_fields["pending_operation"] = None
                observed_fields["last_action"] = f"confirmed {op['verb']} {op['amount']}"
                observed_fields["last_action_at"] = _dt(now)
                row.pending_operation = None
            elif age < self.operation_timeout:
                self._update(row, observed_fields)
                result.outcome = "pending"
                result.detail = f"{op['verb']} {op['amount']} in flight for {age:.0f}s"
                return result
            else:
                observed_fields["pending_operation"] = None
                observed_fields["last_error"] = (
                    f"{op['verb']} {op['amount']} not confirmed after {age:.0f}s; re-deciding "
                    f"from the observed {state.replicas}"
                )
                observed_fields["last_error_at"] = _dt(now)
                row.pending_operation = None
        elif op:
            observed_fields["pending_operation"] = None

        metrics: QueueMetrics | None = None
        if row.mode == Mode.AUTO and row.queues and self.metrics is not None:
            metrics = self.metrics.read(list(row.queues))
        decision = decide(
            PolicyConfig.from_model(row),
            state.replicas,
            metrics,
            Memory.from_dict(row.controller_state),
            now,
        )
        observed_fields["controller_state"] = decision.memory.to_dict()
        if decision.revert_to_keep_down:
            self._revert_keep_alive(row)
        result.desired = decision.replicas
        problem = metrics.error if metrics and metrics.error else None
        if metrics and metrics.missing:
            problem = f"queue(s) missing: {', '.join(metrics.missing)} (never scaled to zero)"

        if not decision.acts_on(state.replicas):
            if problem:
                result.outcome, result.detail = "hold", problem
                observed_fields.update(last_error=problem, last_error_at=_dt(now))
                if metrics and metrics.error:
                    self._backoff_fields(row, observed_fields, now)
            else:
                observed_fields.update(consecutive_errors=0, next_attempt_at=None)
                if not row.pending_operation and row.last_error and not op:
                    observed_fields["last_error"] = ""
            self._update(row, observed_fields)
            return result

        snapshot = metrics.to_dict() if metrics else {}
        desired = decision.replicas
        assert desired is not None  # acts_on() returned True, so a count was decided
        if self.dry_run or row.dry_run:
            observed_fields["last_action"] = f"dry-run: would scale {state.replicas} -> {desired}"
            observed_fields["last_action_at"] = _dt(now)
            self._update(row, observed_fields)
            self._decision(row, state.replicas, desired, "dry_run", snapshot, decision.reasons)
            result.outcome = "dry_run"
            return result

        # Fencing: re-check the lease right before touching the platform.
        if self.lease is not None and not self.lease.still_leader():
            self._decision(row, state.replicas, desired, "fenced", snapshot, decision.reasons)
            raise LostLeadership(row.key)
        if self.backend.delta:
            verb = "add" if desired > state.replicas else "remove"
            pending = {
                "verb": verb,
                "amount": abs(desired - state.replicas),
                "from": state.replicas,
                "to": desired,
                "issued_at": now,
                "epoch": self.lease.epoch if self.lease else None,
                "holder": self.holder,
            }
            # Recorded before the call: if we die or the answer is lost, the next pass knows.
            observed_fields["pending_operation"] = pending
            self._update(row, observed_fields)
            observed_fields = {}
        try:
            outcome = self.backend.scale(row.platform_resource, state.replicas, desired)
        except BackendBusy as exc:
            fields: dict[str, Any] = {"pending_operation": None} if self.backend.delta else {}
            fields.update(last_action=f"busy: {exc.message}"[:255], last_action_at=_dt(now))
            self._update(row, {**observed_fields, **fields})
            self._decision(row, state.replicas, desired, "busy", snapshot, decision.reasons)
            result.outcome, result.detail = "busy", exc.message
            return result
        except OutcomeUnknown as exc:
            fields = {"last_error": str(exc), "last_error_at": _dt(now)}
            self._backoff_fields(row, fields, now)
            self._update(row, {**observed_fields, **fields})
            self._decision(
                row, state.replicas, desired, "unknown", snapshot, decision.reasons, str(exc)
            )
            result.outcome, result.detail = "unknown", str(exc)
            return result
        except BackendError as exc:
            fields = {"pending_operation": None} if self.backend.delta else {}
            fields.update(last_error=f"scale: {exc}", last_error_at=_dt(now))
            self._backoff_fields(row, fields, now)
            self._update(row, {**observed_fields, **fields})
            self._decision(
                row, state.replicas, desired, "error", snapshot, decision.reasons, str(exc)
            )
            result.outcome, result.detail = "error", str(exc)
            return result
        fields = {
            "last_action": f"{outcome.outcome}: {state.replicas} -> {desired} ({outcome.detail})"[
                :255
            ],
            "last_action_at": _dt(now),
            "consecutive_errors": 0,
            "next_attempt_at": None,
        }
        if not problem:
            fields["last_error"] = ""
        self._update(row, {**observed_fields, **fields})
        self._decision(row, state.replicas, desired, outcome.outcome, snapshot, decision.reasons)
        result.outcome = outcome.outcome
        return result

    # ---- persistence helpers ---------------------------------------------------------------

    def _update(self, row: ServiceConfiguration, fields: dict[str, Any]) -> None:
        if fields:
            ServiceConfiguration.objects.filter(pk=row.pk).update(**fields)

    def _backoff_fields(
        self, row: ServiceConfiguration, fields: dict[str, Any], now: float
    ) -> None:
        n = row.consecutive_errors + 1
        delay = min(self.backoff_base * 2 ** (n - 1), self.backoff_max)
        fields.update(consecutive_errors=n, next_attempt_at=_dt(now + delay))

    def _record_error(self, row: ServiceConfiguration, message: str) -> None:
        now = self.clock()
        fields: dict[str, Any] = {"last_error": message, "last_error_at": _dt(now)}
        self._backoff_fields(row, fields, now)
        try:
            self._update(row, fields)
        except DatabaseError:
            logger.warning("run_scaler: could not record error on %s: %s", row.key, message)

    def _decision(
        self,
        row: ServiceConfiguration,
        observed: int | None,
        desired: int,
        outcome: str,
        snapshot: dict[str, Any],
        reasons: tuple[str, ...],
        error: str = "",
    ) -> None:
        ScalingDecision.objects.create(
            service=row,
            decided_at=_dt(self.clock()),
            holder=self.holder,
            epoch=(self.lease.epoch or 0) if self.lease else 0,
            backend=self.backend.name,
            mode=row.mode,
            observed_replicas=observed,
            desired_replicas=desired,
            outcome=outcome,
            queue_snapshot=snapshot,
            reasons=list(reasons),
            error=error,
        )

    def _revert_keep_alive(self, row: ServiceConfiguration) -> None:
        # Compare-and-set: an operator's edit since this pass read the row wins. The queryset
        # records the change in the history (actor "scaler").
        with attributed("scaler", "scaler", "keep_alive expired"):
            ServiceConfiguration.objects.filter(
                pk=row.pk, mode=Mode.KEEP_ALIVE, keep_alive_until=row.keep_alive_until
            ).update(mode=Mode.KEEP_DOWN, keep_alive_until=None)
