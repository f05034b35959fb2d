"""The health-check contract: what a check is, what one probe returns, how a check is declared.

A check is anything callable as ``check(timeout=seconds)``:

* a :class:`HealthCheck` subclass named by dotted path (instantiated once with its
  ``options``; :meth:`HealthCheck.probe` is called per probe), or
* a plain function (sync or ``async def``) named by dotted path, called as
  ``func(timeout=seconds, **options)``.

It returns a :class:`Probe` (or ``None``/``True`` for healthy, ``False`` for unhealthy) or
raises; an exception counts as unhealthy and its (sanitised) text becomes the detail shown to
authorized callers only. Checks never see the request: they run in the runner's pool.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["healthy", "unhealthy"]

# Reasons (shown to authorized callers next to the error text).
REASON_TIMEOUT = "timeout"
REASON_NOT_CONFIGURED = "not configured"
REASON_MISCONFIGURED = "misconfigured"
REASON_ERROR = "error"
REASON_UNAVAILABLE = "unavailable"


class NotConfigured(Exception):
    """Raised by a probe when the check is enabled but its service is not configured."""


@dataclass(frozen=True)
class Probe:
    """What one run of a check found (before timing and criticality are added)."""

    ok: bool
    error: str | None = None  # sanitised before it is stored; never shown anonymously
    reason: str | None = None  # one of the REASON_* words when not ok
    version: str | None = None  # server version, authorized callers only
    # The key the check reports under when it only becomes known at probe time (the graph
    # check reports as "neo4j" or "falkordb", the active provider's name).
    component: str | None = None
    # False: the check found itself switched off (the LLM check with both flags off); it is
    # then left out of the report and of the status.
    enabled: bool = True


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check as the endpoint reports it."""

    name: str
    ok: bool
    critical: bool
    latency_ms: float
    observed_at: dt.datetime
    component_type: str = "component"
    error: str | None = field(default=None, repr=False)
    reason: str | None = None
    version: str | None = None
    enabled: bool = True

    @property
    def status(self) -> Status:
        return "healthy" if self.ok else "unhealthy"


@dataclass(frozen=True)
class CheckSpec:
    """One configured check: which callable, how critical, how long it may take.

    ``refresh_interval`` > 0 switches the check to background refresh: its last result is
    served while younger than ``refresh_interval`` and a new probe starts in the background
    once it is older than half of it (the LLM check, so one slow remote call cannot flap
    every pod out of rotation).
    """

    name: str
    check: Any  # a HealthCheck instance or a callable(timeout=..., **options)
    critical: bool = True
    timeout: float = 1.0
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    component_type: str = "component"
    refresh_interval: float = 0.0


class HealthCheck(ABC):
    """Base class of the built-in checks; hosts may subclass it for their own.

    Subclasses are instantiated with the spec's ``options`` as keyword arguments, once per
    configuration (a settings change builds new instances). The constructor must do no I/O.
    """

    #: the IETF health+json ``componentType`` of this check
    component_type: str = "component"

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def probe(self, timeout: float) -> Probe:
        """Contact the dependency once, bounded by ``timeout`` seconds at the driver level.

        Returns:
            A :class:`Probe`. Raises :class:`NotConfigured` when the service has no
            configuration; any other exception counts as unhealthy (the runner logs it and
            keeps only sanitised text).
        """

    def configuration_problem(self) -> str | None:
        """Return why this check cannot run as configured, or None (system checks).

        Read settings-store keys through ``experio_platform.health.checks.config_value``: the
        system checks call this inside a bounded, pre-read view of the store, so it does no I/O.
        """
        return None

    def component_name(self) -> str | None:
        """Return the key to report under when it differs from the spec's name, or None.

        Called on the request path (a probe that missed its cutoff is reported under it), so
        it must not do I/O; the graph check answers with the active provider's name.
        """
        return None

    def secrets(self) -> list[str]:
        """Return secret values this check uses, so the sanitiser can scrub them from text."""
        return []
