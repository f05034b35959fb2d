"""Run the checks: concurrently, bounded in time, single-flight, cached.

* One bounded pool of daemon threads per process (created lazily, rebuilt after a fork) runs
  every probe; the request path only *waits on futures* with a timeout and never joins a
  thread, so a hung probe cannot hold a response past its cutoff.
* Single-flight: each check has at most one probe in flight per process. A request that finds
  one in flight waits for that one (until the probe's own cutoff: its start + the check's
  timeout), it never starts a second. A hung dependency therefore holds at most one worker.
* TTL cache: a result younger than ``HEALTH_CACHE_TTL`` is served to every poller. A check that
  misses its cutoff is recorded as ``timeout`` for one TTL too, so polls against a hung
  dependency cost nothing until its probe returns.
* Background refresh (``CheckSpec.refresh_interval``, the LLM check): the last result is served
  while younger than the interval; past half of it a refresh starts and nobody waits for it.

``collect`` (WSGI) and ``acollect`` (ASGI) share every step but the wait itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import os
import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ALL_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from experio_platform.health.base import (
    REASON_ERROR,
    REASON_NOT_CONFIGURED,
    REASON_TIMEOUT,
    CheckResult,
    CheckSpec,
    HealthCheck,
    NotConfigured,
    Probe,
)
from experio_platform.health.sanitize import sanitize, short

logger = logging.getLogger("experio_platform.health")

Overall = Literal["healthy", "degraded", "unhealthy"]


@dataclass(frozen=True)
class Report:
    """The outcome of one /health/ evaluation."""

    status: Overall
    results: list[CheckResult]
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def http_status(self) -> int:
        return 503 if self.status == "unhealthy" else 200

    def age_s(self, result: CheckResult) -> float:
        """Seconds since ``result`` was observed (0 for a probe run for this request)."""
        return max(0.0, round((self.generated_at - result.observed_at).total_seconds(), 3))


def overall_status(results: Iterable[CheckResult]) -> Overall:
    """Any critical unhealthy: unhealthy; else any unhealthy: degraded; else healthy."""
    results = [r for r in results if r.enabled]
    if any(not r.ok and r.critical for r in results):
        return "unhealthy"
    if any(not r.ok for r in results):
        return "degraded"
    return "healthy"


class DaemonPool:
    """A bounded thread pool whose workers are daemon threads.

    ``ThreadPoolExecutor`` joins its (non-daemon) workers at interpreter exit, so one probe
    hung on a dead dependency would hold a gunicorn worker's graceful shutdown until it is
    SIGKILLed. Same reuse rule as ThreadPoolExecutor: a new thread only when none is idle.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, func: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        if self._closed:
            raise RuntimeError("the health probe pool is shut down")
        self._queue.put((future, func, args))
        if not self._idle.acquire(timeout=0):
            with self._lock:
                if len(self._threads) < self.max_workers:
                    thread = threading.Thread(
                        target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, func, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(func(*args))
                except BaseException as exc:
                    future.set_exception(exc)
            del item, future, func, args
            self._idle.release()

    def shutdown(self) -> None:
        """Cancel queued work and let idle workers exit; never waits for a running probe."""
        self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)

    @property
    def thread_count(self) -> int:
        return len(self._threads)


@dataclass
class _Slot:
    future: Future | None = None
    started: float = 0.0  # monotonic start of the in-flight probe
    result: CheckResult | None = None
    result_at: float = float("-inf")  # monotonic time the result was stored
    component: str | None = None  # last name the check reported under (graph)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Every secret value the health code may meet, for the sanitiser."""
    from django.conf import settings

    from experio_platform.conf import platform_settings

    found = [str(platform_settings.HEALTH_TOKEN or "")]
    for db in getattr(settings, "DATABASES", {}).values():
        found.append(str(db.get("PASSWORD") or ""))
    try:
        overrides = platform_settings.CONFIG_OVERRIDES or {}
    except Exception:  # a broken EXPERIO_PLATFORM is reported by system checks
        overrides = {}
    for key, value in overrides.items():
        if any(word in key.upper() for word in ("PASSWORD", "KEY", "SECRET", "TOKEN")):
            found.append(str(value or ""))
    found.extend(extra)
    return [s for s in found if s]


class Runner:
    """Per-process executor of health checks; see the module docstring for the rules."""

    def __init__(self, specs: list[CheckSpec], *, max_workers: int, cache_ttl: float) -> None:
        self.specs = specs
        self.max_workers = max(1, int(max_workers))
        self.cache_ttl = max(0.0, float(cache_ttl))
        self.probes_started: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._slots: dict[str, _Slot] = {spec.name: _Slot() for spec in specs}
        self._executor: DaemonPool | None = None
        self._pid: int | None = None
        self._secrets: list[str] | None = None
        self._secrets_at = float("-inf")

    # ---- the pool ---------------------------------------------------------------------------
    def _pool(self) -> DaemonPool:
        # Threads do not survive fork(): a gunicorn worker forked from a master that already
        # built the pool gets a fresh one (and fresh slots, whose futures would never finish).
        if self._executor is None or self._pid != os.getpid():
            self._executor = DaemonPool(self.max_workers, "experio-health")
            self._pid = os.getpid()
            self._slots = {spec.name: _Slot() for spec in self.specs}
        return self._executor

    def submit(self, func: Callable[[], Any]) -> Future:
        """Run ``func`` in the pool (for short, bounded helpers such as a session lookup)."""
        with self._lock:
            return self._pool().submit(func)

    def shutdown(self) -> None:
        """Stop accepting work; running probes finish on their own (never joined)."""
        if self._executor is not None:
            self._executor.shutdown()

    def secrets(self) -> list[str]:
        """Secret values to scrub, re-read every 10 s (keys may change in the settings store).

        Called from pool threads only: a check's ``secrets()`` may read the settings store.
        """
        if self._secrets is None or time.monotonic() - self._secrets_at > 10.0:
            self._secrets_at = time.monotonic()
            extra: list[str] = []
            for spec in self.specs:
                if isinstance(spec.check, HealthCheck):
                    try:
                        extra.extend(spec.check.secrets())
                    except Exception:  # a broken config must not break the sanitiser
                        logger.debug("secrets() of %s failed", spec.name)
            self._secrets = known_secrets(extra)
        return self._secrets

    # ---- one probe --------------------------------------------------------------------------
    def _run_probe(self, spec: CheckSpec, previous: CheckResult | None) -> CheckResult:
        try:
            return self._probe_once(spec, previous)
        finally:
            # A check (or the settings store read for its config or secrets) may have opened
            # an ORM connection bound to this pool thread; close it so the database connection
            # count stays flat (pool threads never see request_finished).
            _close_thread_connections()

    def _probe_once(self, spec: CheckSpec, previous: CheckResult | None) -> CheckResult:
        started = time.perf_counter()
        trace: str | None = None
        try:
            probe = _call(spec)
        except NotConfigured as exc:
            probe = Probe(ok=False, reason=REASON_NOT_CONFIGURED, error=str(exc))
        except TimeoutError as exc:  # socket.timeout, asyncio.wait_for: the driver gave up
            probe = Probe(ok=False, reason=REASON_TIMEOUT, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # any failure of a check means "unhealthy", never a 500
            trace = "".join(traceback.format_exception(exc))
            probe = Probe(ok=False, reason=REASON_ERROR, error=f"{type(exc).__name__}: {exc}")
        latency = (time.perf_counter() - started) * 1000
        error = short(sanitize(probe.error, self.secrets())) if probe.error else None
        # The full (sanitised) exception goes to the log when a check starts failing or fails
        # differently; repeating it every TTL while a dependency stays down would flood it.
        changed = previous is None or previous.ok != probe.ok or previous.error != error
        if not probe.ok:
            level = logging.WARNING if changed else logging.DEBUG
            detail = sanitize(trace, self.secrets()) if trace else error
            logger.log(level, "health check %s unhealthy (%s): %s", spec.name, probe.reason, detail)
        elif previous is not None and not previous.ok:
            logger.info("health check %s recovered", spec.name)
        return CheckResult(
            # A probe that raised still reports under the check's name for it (the graph's).
            name=probe.component or _component_name(spec) or spec.name,
            ok=probe.ok,
            critical=spec.critical,
            latency_ms=round(latency, 3),
            observed_at=_now(),
            component_type=spec.component_type,
            error=error,
            reason=probe.reason or (None if probe.ok else REASON_ERROR),
            version=probe.version,
            enabled=probe.enabled,
        )

    def _start(self, spec: CheckSpec, slot: _Slot, now: float) -> Future:
        self.probes_started[spec.name] += 1
        future = self._pool().submit(self._run_probe, spec, slot.result)
        slot.future, slot.started = future, now

        def finished(f: Future) -> None:
            with self._lock:
                if slot.future is f:
                    slot.future = None
                if f.cancelled():
                    return
                result = f.result()  # _run_probe never raises
                slot.result, slot.result_at = result, time.monotonic()
                slot.component = result.name

        future.add_done_callback(finished)
        return future

    # ---- one request ------------------------------------------------------------------------
    def _begin(self, use_cache: bool) -> tuple[list[Any], dict[Future, float]]:
        """Take cached results or in-flight/new futures for every check (no waiting)."""
        now = time.monotonic()
        entries: list[Any] = [None] * len(self.specs)  # per spec: a result or (future, cutoff)
        waits: dict[Future, float] = {}
        with self._lock:
            self._pool()
            for index in self._start_order():
                spec = self.specs[index]
                slot = self._slots.setdefault(spec.name, _Slot())
                age = now - slot.result_at
                if use_cache and spec.refresh_interval > 0 and slot.result is not None:
                    if age < spec.refresh_interval:
                        # A healthy result is refreshed after half the interval; a failure
                        # after one TTL, so a recovered provider is seen as fast as any check.
                        refresh_after = spec.refresh_interval / 2
                        if not slot.result.ok:
                            refresh_after = min(refresh_after, self.cache_ttl or 1.0)
                        if age >= refresh_after and slot.future is None:
                            self._start(spec, slot, now)  # background: nobody waits
                        entries[index] = slot.result
                        continue
                elif use_cache and 0 < age < self.cache_ttl and slot.result is not None:
                    entries[index] = slot.result
                    continue
                future = slot.future or self._start(spec, slot, now)
                cutoff = slot.started + spec.timeout
                entries[index] = (future, cutoff)
                waits[future] = cutoff
        return entries, waits

    def _start_order(self) -> list[int]:
        """Spec indexes, the slowest last time first (longest-processing-time-first).

        Probes start one after another as pool threads get the GIL, and each runs a burst of
        Python (client set-up) before its first blocking I/O. Starting the check that took
        longest first lets the others' bursts overlap its network wait instead of delaying
        its start, which is what the answer waits for. (Measured in-process, cache off:
        ~1 ms p50 less between the slowest probe's submission and its start.)
        """
        latency = [
            slot.result.latency_ms if slot and slot.result else 0.0
            for slot in (self._slots.get(spec.name) for spec in self.specs)
        ]
        return sorted(range(len(self.specs)), key=lambda i: -latency[i])

    def _finish(self, entries: list[Any], deadline_at: float) -> Report:
        """Turn entries into results; anything unfinished is a timeout (recorded for one TTL)."""
        results: list[CheckResult] = []
        now = time.monotonic()
        with self._lock:
            for spec, entry in zip(self.specs, entries, strict=True):
                if isinstance(entry, CheckResult):
                    results.append(entry)
                    continue
                future, _cutoff = entry
                if future.done() and not future.cancelled():
                    results.append(future.result())
                    continue
                slot = self._slots[spec.name]
                result = CheckResult(
                    name=_component_name(spec) or slot.component or spec.name,
                    ok=False,
                    critical=spec.critical,
                    latency_ms=round((now - slot.started) * 1000, 3),
                    observed_at=_now(),
                    component_type=spec.component_type,
                    reason=REASON_TIMEOUT,
                    error=f"no answer within {min(spec.timeout, deadline_at - slot.started):.2f} s",
                )
                results.append(result)
                # Remember the timeout for one TTL while the probe is still stuck, so the next
                # polls answer at once; the probe's own result replaces it when it comes.
                if slot.future is future and spec.refresh_interval <= 0:
                    slot.result, slot.result_at = result, now
        return Report(status=overall_status(results), results=results)

    def collect(self, *, use_cache: bool = True, deadline: float) -> Report:
        """Evaluate every check, returning within ``deadline`` seconds (blocking wait)."""
        deadline_at = time.monotonic() + deadline
        entries, waits = self._begin(use_cache)
        pending = set(waits)
        while pending:
            now = time.monotonic()
            pending = {f for f in pending if not f.done() and min(waits[f], deadline_at) > now}
            if not pending:
                break
            until = min(min(waits[f] for f in pending), deadline_at)
            # ALL_COMPLETED: one wake-up when the last probe ends (or at the nearest cutoff),
            # not one per probe; each wake-up may wait a GIL switch interval (5 ms) behind a
            # probe thread that is busy in Python (pika's handshake).
            wait(pending, timeout=max(0.0, until - now), return_when=ALL_COMPLETED)
        return self._finish(entries, deadline_at)

    async def acollect(self, *, use_cache: bool = True, deadline: float) -> Report:
        """Evaluate every check without blocking the event loop (ASGI)."""
        deadline_at = time.monotonic() + deadline
        entries, waits = self._begin(use_cache)
        # wrap_future only observes the concurrent future; asyncio.wait never cancels it.
        wrapped = {asyncio.wrap_future(f): f for f in waits}
        pending = set(wrapped)
        while pending:
            now = time.monotonic()
            pending = {
                a
                for a in pending
                if not wrapped[a].done() and min(waits[wrapped[a]], deadline_at) > now
            }
            if not pending:
                break
            until = min(min(waits[wrapped[a]] for a in pending), deadline_at)
            await asyncio.wait(pending, timeout=max(0.0, until - now), return_when=ALL_COMPLETED)
        return self._finish(entries, deadline_at)


def _call(spec: CheckSpec) -> Probe:
    check = spec.check
    if isinstance(check, HealthCheck):
        value: Any = check.probe(spec.timeout)
    else:
        value = check(timeout=spec.timeout, **spec.options)
        if inspect.isawaitable(value):
            # An async host check gets its own short-lived loop in the pool thread.
            value = asyncio.run(_bounded(value, spec.timeout))
    if value is None or value is True:
        return Probe(ok=True)
    if value is False:
        return Probe(ok=False, reason=REASON_ERROR)
    if isinstance(value, Probe):
        return value
    raise TypeError(f"check returned {type(value).__name__}; expected Probe, bool or None")


def _component_name(spec: CheckSpec) -> str | None:
    """The check's own (I/O-free) name for a result it has not delivered, if it has one."""
    if not isinstance(spec.check, HealthCheck):
        return None
    try:
        return spec.check.component_name()
    except Exception:  # a broken host override must not break the response
        logger.debug("component_name() of %s failed", spec.name, exc_info=True)
        return None


async def _bounded(awaitable: Any, timeout: float) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


def _close_thread_connections() -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()


# ---- the process-wide runner ----------------------------------------------------------------
_runner: Runner | None = None
_runner_lock = threading.Lock()


def get_runner() -> Runner:
    """Return this process's runner, building it from the settings on first use.

    Raises:
        ConfigurationError: the HEALTH_* settings are invalid.
    """
    global _runner
    if _runner is None:
        with _runner_lock:
            if _runner is None:
                from experio_platform.conf import platform_settings
                from experio_platform.health.specs import build_specs

                _runner = Runner(
                    build_specs(),
                    max_workers=platform_settings.HEALTH_MAX_WORKERS,
                    cache_ttl=platform_settings.HEALTH_CACHE_TTL,
                )
    return _runner


def reset_runner() -> None:
    """Drop the runner (settings changed): the next request builds a new one."""
    global _runner
    with _runner_lock:
        old, _runner = _runner, None
    if old is not None:
        old.shutdown()


def _on_settings_changed() -> None:
    reset_runner()


# Registering a listener is a list append: no I/O, no thread (conf.on_reload's contract).
from experio_platform.conf import on_reload  # noqa: E402

on_reload(_on_settings_changed)
