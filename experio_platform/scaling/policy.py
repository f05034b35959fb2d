"""The pure decision function of the scale-to-zero sidecar (issue 5 §3).

``decide(config, observed, metrics, memory, now) -> Decision`` has no I/O and no clock: the
reconciler, the property tests and the simulation (bench/scaling.py) all run this same code.
Times are POSIX seconds (floats) so the simulation can run a day in milliseconds.

Rules, in order (each applied rule adds a reason):

- ``paused``: no action (observe and log only).
- ``keep_alive``: the pinned count; after ``keep_alive_until`` the row reverts to ``keep_down``.
- ``keep_down``: 0.
- ``auto``: ``ceil((ready + unacked) / target)`` clamped to [min, max]; from 0 only when
  ``ready > activation_threshold`` or anything is unacknowledged; to 0 only after
  ``idle_seconds_before_zero`` without a message waiting (ready; counted like KEDA's
  ``cooldownPeriod``) *and* ``min_warm_seconds`` since it came up,
  never while messages are unacknowledged, never when the metrics failed (hold the current
  count), never when a queue is missing (a typo must not scale a worker to zero) and never on the
  AMQP fallback (it cannot see unacknowledged work). Scale-down waits until nothing is
  unacknowledged (``scale_down_only_when_idle``, default) or at least never goes below the
  number of unacknowledged messages (work replicas hold); it takes the highest
  recommendation of the rolling ``scale_down_window_seconds`` (except the last step to zero,
  which the idle time already damps) and waits that long after a scale-up
  (KEDA#356/#638/#6719 taught why). Steps are limited per pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

KEEP_ALIVE, KEEP_DOWN, AUTO, PAUSED = "keep_alive", "keep_down", "auto", "paused"


@dataclass(frozen=True)
class PolicyConfig:
    """The desired-state fields of a ServiceConfiguration the decision needs."""

    mode: str = AUTO
    pinned_replicas: int = 1
    keep_alive_until: float | None = None
    min_replicas: int = 0
    max_replicas: int = 4
    target_messages_per_replica: int = 20
    activation_threshold: int = 0
    idle_seconds_before_zero: float = 600.0
    min_warm_seconds: float = 300.0
    scale_down_window_seconds: float = 300.0
    max_scale_up_step: int = 4
    max_scale_down_step: int = 1
    scale_down_only_when_idle: bool = True
    has_queues: bool = True

    @classmethod
    def from_model(cls, row: Any) -> PolicyConfig:
        until = row.keep_alive_until.timestamp() if row.keep_alive_until else None
        return cls(
            mode=row.mode,
            pinned_replicas=row.pinned_replicas,
            keep_alive_until=until,
            min_replicas=row.min_replicas,
            max_replicas=row.max_replicas,
            target_messages_per_replica=max(1, row.target_messages_per_replica),
            activation_threshold=row.activation_threshold,
            idle_seconds_before_zero=row.idle_seconds_before_zero,
            min_warm_seconds=row.min_warm_seconds,
            scale_down_window_seconds=row.scale_down_window_seconds,
            max_scale_up_step=max(1, row.max_scale_up_step),
            max_scale_down_step=max(1, row.max_scale_down_step),
            scale_down_only_when_idle=row.scale_down_only_when_idle,
            has_queues=bool(row.queues),
        )


@dataclass(frozen=True)
class QueueSnapshot:
    """One queue as RabbitMQ reported it. ``unacked``/``consumers`` are None on the AMQP path."""

    name: str
    exists: bool = True
    ready: int = 0
    unacked: int | None = 0
    consumers: int | None = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "exists": self.exists,
            "ready": self.ready,
            "unacked": self.unacked,
            "consumers": self.consumers,
        }


@dataclass(frozen=True)
class QueueMetrics:
    """The queues feeding one service. ``source`` is ``management`` or ``amqp`` (fallback);
    ``error`` is set when neither could be read (then the counts mean nothing)."""

    queues: tuple[QueueSnapshot, ...] = ()
    source: str = "management"
    error: str | None = None

    @property
    def ready(self) -> int:
        return sum(q.ready for q in self.queues if q.exists)

    @property
    def unacked(self) -> int:
        return sum(q.unacked or 0 for q in self.queues if q.exists)

    @property
    def missing(self) -> list[str]:
        return [q.name for q in self.queues if not q.exists]

    @property
    def sees_unacked(self) -> bool:
        return self.source == "management"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "error": self.error,
            "ready": self.ready,
            "unacked": self.unacked if self.sees_unacked else None,
            "queues": [q.to_dict() for q in self.queues],
        }


@dataclass(frozen=True)
class Memory:
    """What the controller remembers between passes (stored in ``controller_state``)."""

    last_activity_at: float | None = None
    up_since: float | None = None
    last_scale_up_at: float | None = None
    recommendations: tuple[tuple[float, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_activity_at": self.last_activity_at,
            "up_since": self.up_since,
            "last_scale_up_at": self.last_scale_up_at,
            "recommendations": [list(r) for r in self.recommendations],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Memory:
        data = data or {}
        return cls(
            last_activity_at=data.get("last_activity_at"),
            up_since=data.get("up_since"),
            last_scale_up_at=data.get("last_scale_up_at"),
            recommendations=tuple((float(t), int(n)) for t, n in data.get("recommendations") or ()),
        )


@dataclass(frozen=True)
class Decision:
    """The outcome: ``replicas`` None means "take no action" (paused, or nothing known)."""

    replicas: int | None
    reasons: tuple[str, ...]
    memory: Memory
    revert_to_keep_down: bool = False

    def acts_on(self, observed: int | None) -> bool:
        """True when the decision would change the platform (given what was observed)."""
        return self.replicas is not None and self.replicas != observed


def decide(
    config: PolicyConfig,
    observed: int | None,
    metrics: QueueMetrics | None,
    memory: Memory,
    now: float,
) -> Decision:
    """Return the desired replicas for one service, with the reasons, and the new memory."""
    reasons: list[str] = []
    mode = config.mode
    if mode == PAUSED:
        return Decision(None, ("paused: observe only, no action",), memory)
    if mode == KEEP_ALIVE:
        if config.keep_alive_until is not None and now >= config.keep_alive_until:
            return Decision(
                0, ("keep_alive expired: reverting to keep_down",), _mem_down(memory), True
            )
        pinned = max(1, config.pinned_replicas)
        return Decision(
            pinned, (f"keep_alive: pinned at {pinned}",), _mem_up(memory, observed, now)
        )
    if mode == KEEP_DOWN:
        return Decision(0, ("keep_down: 0 replicas",), _mem_down(memory))
    if observed is None:
        return Decision(None, ("observed replicas unknown: holding",), memory)
    return _decide_auto(config, observed, metrics, memory, now, reasons)


def _mem_down(memory: Memory) -> Memory:
    return replace(memory, up_since=None, recommendations=())


def _mem_up(memory: Memory, observed: int | None, now: float) -> Memory:
    if memory.up_since is None and (observed or 0) > 0:
        return replace(memory, up_since=now)
    return memory


def _decide_auto(
    c: PolicyConfig,
    current: int,
    metrics: QueueMetrics | None,
    memory: Memory,
    now: float,
    reasons: list[str],
) -> Decision:
    lo, hi = c.min_replicas, max(c.min_replicas, c.max_replicas)
    up_since = memory.up_since
    if current > 0 and up_since is None:
        up_since = now  # first sight of a running service: its warm time starts now
    if current == 0:
        up_since = None
    last_activity = memory.last_activity_at
    if last_activity is None and current > 0:
        last_activity = now  # unknown history: the idle timer starts at controller start

    # What the metrics allow.
    in_flight = 0  # unacknowledged messages, when the source can see them
    to_zero_allowed = False
    if not c.has_queues:
        raw = lo
        reasons.append(f"no queues configured: minimum {lo}")
    elif metrics is None or metrics.error:
        err = metrics.error if metrics else "no metrics"
        reasons.append(f"queue metrics failed ({err}): holding {current}")
        raw = current
    else:
        missing = metrics.missing
        ready, unacked = metrics.ready, metrics.unacked
        backlog = ready + unacked
        in_flight = unacked if metrics.sees_unacked else 0
        if ready > 0 or (current == 0 and backlog > 0):
            # The idle time counts from the last pass that saw a message *waiting* (KEDA's
            # cooldownPeriod counts the same way): a replica busy with a long job is not
            # idle-timed from the job's end; zero still waits for it (unacked, below).
            last_activity = now
        raw = math.ceil(backlog / c.target_messages_per_replica)
        reasons.append(
            f"backlog {ready} ready + {unacked} unacked"
            f"{'' if metrics.sees_unacked else ' (AMQP fallback: unacked unknown)'}"
            f" / {c.target_messages_per_replica} per replica -> {raw}"
        )
        if current == 0:
            if ready > c.activation_threshold or unacked > 0:
                raw = max(raw, 1)
                reasons.append(f"activation: ready {ready} > {c.activation_threshold} or in flight")
            else:
                raw = 0
        else:
            keep_one = []
            if unacked > 0:
                keep_one.append(f"{unacked} unacked")
            if missing:
                keep_one.append(f"missing queue(s) {', '.join(missing)}")
            if not metrics.sees_unacked:
                keep_one.append("AMQP fallback cannot see unacked work")
            idle_for = now - last_activity if last_activity is not None else 0.0
            if idle_for < c.idle_seconds_before_zero:
                keep_one.append(
                    f"idle (nothing waiting) {idle_for:.0f}s < {c.idle_seconds_before_zero:.0f}s"
                )
            warm_for = now - up_since if up_since is not None else 0.0
            if warm_for < c.min_warm_seconds:
                keep_one.append(f"warm {warm_for:.0f}s < {c.min_warm_seconds:.0f}s")
            if raw == 0 and keep_one:
                raw = 1
                reasons.append("not to zero: " + "; ".join(keep_one))
            elif raw == 0 and lo == 0:
                # The idle time is the damping of the last step to zero: the rolling window
                # below would only add its length on top of it again.
                to_zero_allowed = True
    target = min(max(raw, lo), hi)
    if target != raw:
        reasons.append(f"clamped to [{lo}, {hi}] -> {target}")

    # Damping of scale-down: the rolling window and the pause after a scale-up.
    window = c.scale_down_window_seconds
    kept = tuple((t, n) for t, n in memory.recommendations if now - t < window)
    recs = (*kept, (now, target))
    desired = target
    if target < current:
        peak = max(n for _, n in recs)
        if to_zero_allowed:
            peak = target
        if peak > target:
            desired = min(peak, current)
            reasons.append(f"scale-down window {window:.0f}s: highest recommendation {peak}")
        if in_flight and c.scale_down_only_when_idle:
            # The platform picks which replica stops, so any scale-down may hit a busy one and
            # requeue its job (KEDA#356): wait until nothing is unacknowledged.
            desired = current
            reasons.append(f"{in_flight} in flight: scale-down waits until idle")
        elif in_flight and desired < min(current, in_flight):
            # Each unacknowledged message is work a replica holds: removing more replicas than
            # are idle would interrupt it (with prefetch 1, unacked = busy replicas).
            desired = min(current, in_flight)
            reasons.append(f"{in_flight} in flight: not below {desired}")
        if memory.last_scale_up_at is not None and now - memory.last_scale_up_at < window:
            desired = current
            reasons.append(
                f"scaled up {now - memory.last_scale_up_at:.0f}s ago (< {window:.0f}s): holding"
            )
        if desired < current - c.max_scale_down_step:
            desired = current - c.max_scale_down_step
            reasons.append(f"step limit: -{c.max_scale_down_step} per pass -> {desired}")
    elif target > current + c.max_scale_up_step:
        desired = current + c.max_scale_up_step
        reasons.append(f"step limit: +{c.max_scale_up_step} per pass -> {desired}")
    if desired > hi or desired < lo:
        # Bounds beat damping: an operator who lowers max expects it to apply now.
        desired = min(max(desired, lo), hi)
        reasons.append(f"bounds [{lo}, {hi}] -> {desired}")
    last_up = memory.last_scale_up_at
    if desired > current:
        last_up = now
        if current == 0:
            up_since = now
    if desired == 0:
        up_since = None
    if desired == current:
        reasons.append(f"steady at {current}")
    new_memory = Memory(
        last_activity_at=last_activity,
        up_since=up_since,
        last_scale_up_at=last_up,
        recommendations=recs,
    )
    return Decision(desired, tuple(reasons), new_memory)
