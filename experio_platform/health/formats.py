"""Render a :class:`Report` as JSON, IETF ``application/health+json`` or OpenMetrics text.

``detail=False`` (anonymous callers) renders status, criticality, latency, time and cache age
only: never error text, reason, hostnames, ports or versions.
"""

from __future__ import annotations

import json
from typing import Any

from experio_platform.health.base import CheckResult
from experio_platform.health.runner import Report

JSON = "application/json"
HEALTH_JSON = "application/health+json"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_IETF_STATUS = {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}


def _iso(result: CheckResult) -> str:
    return result.observed_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _visible(report: Report) -> list[CheckResult]:
    return [r for r in report.results if r.enabled]


def render_json(report: Report, *, detail: bool) -> str:
    """The default body: ``{"status", "checks": {name: {...}}}`` with each result's age."""
    checks: dict[str, Any] = {}
    for r in _visible(report):
        entry: dict[str, Any] = {
            "status": r.status,
            "critical": r.critical,
            "latency_ms": r.latency_ms,
            "observed_at": _iso(r),
            "age_s": report.age_s(r),
        }
        if detail:
            entry["reason"] = r.reason
            entry["error"] = r.error
            entry["version"] = r.version
        checks[r.name] = entry
    body = {"status": report.status, "checks": checks}
    return json.dumps(body, separators=(",", ":"))


def render_health_json(report: Report, *, detail: bool) -> str:
    """draft-inadarei-api-health-check: pass/warn/fail; a failed non-critical check is warn."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for r in _visible(report):
        status = "pass" if r.ok else ("fail" if r.critical else "warn")
        entry: dict[str, Any] = {
            "componentType": r.component_type,
            "observedValue": r.latency_ms,
            "observedUnit": "ms",
            "status": status,
            "time": _iso(r),
        }
        if detail and not r.ok:
            entry["output"] = f"{r.reason}: {r.error}" if r.error else r.reason
        checks[f"{r.name}:responseTime"] = [entry]
    body: dict[str, Any] = {"status": _IETF_STATUS[report.status], "checks": checks}
    if detail:
        from experio_platform import __version__

        body["releaseId"] = __version__
    return json.dumps(body, separators=(",", ":"))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_openmetrics(report: Report, *, detail: bool) -> str:
    """OpenMetrics text: overall and per-check status gauges and latency (always HTTP 200)."""
    lines = [
        "# TYPE experio_health_status gauge",
        "# HELP experio_health_status Overall status: 1 healthy, 0.5 degraded, 0 unhealthy.",
        f"experio_health_status {dict(healthy=1, degraded=0.5, unhealthy=0)[report.status]}",
        "# TYPE experio_health_check_up gauge",
        "# HELP experio_health_check_up 1 if the check is healthy, else 0.",
    ]
    visible = _visible(report)
    for r in visible:
        labels = f'check="{_label(r.name)}",critical="{str(r.critical).lower()}"'
        lines.append(f"experio_health_check_up{{{labels}}} {1 if r.ok else 0}")
    lines += [
        "# TYPE experio_health_check_latency_seconds gauge",
        "# UNIT experio_health_check_latency_seconds seconds",
        "# HELP experio_health_check_latency_seconds Duration of the check's last probe.",
    ]
    for r in visible:
        lines.append(
            f'experio_health_check_latency_seconds{{check="{_label(r.name)}"}} '
            f"{r.latency_ms / 1000:.6f}"
        )
    lines += [
        "# TYPE experio_health_check_age_seconds gauge",
        "# UNIT experio_health_check_age_seconds seconds",
        "# HELP experio_health_check_age_seconds Age of the (cached) result served.",
    ]
    for r in visible:
        lines.append(
            f'experio_health_check_age_seconds{{check="{_label(r.name)}"}} {report.age_s(r)}'
        )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
