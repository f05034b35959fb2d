"""``manage.py check_health [--json] [--only NAME]``: run the /health/ checks in-process.

Ignores the cache (every check is probed now), prints the same JSON as /health/ with the
sanitised detail (reason, error, version) an operator on the box may see. Exit codes: 0 healthy
or degraded, 1 unhealthy, 2 misconfigured (invalid settings or an unknown --only name).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experio_platform.conf import platform_settings
from experio_platform.exceptions import ConfigurationError
from experio_platform.health import formats
from experio_platform.health.runner import Report, Runner
from experio_platform.health.specs import build_specs

# The graph check may be asked for by its provider's name.
_ALIASES = {"neo4j": "graph", "falkordb": "graph"}


def run_checks(only: list[str] | None = None) -> Report:
    """Probe the configured checks now (no cache), bounded by HEALTH_DEADLINE.

    Raises:
        ConfigurationError: the settings are invalid or ``only`` names an unknown check.
    """
    specs = build_specs()
    if only:
        wanted = {_ALIASES.get(name, name) for name in only}
        unknown = wanted - {spec.name for spec in specs}
        if unknown:
            raise ConfigurationError(
                f"Unknown health check(s): {', '.join(sorted(unknown))}.",
                hint=f"Configured checks: {', '.join(s.name for s in specs) or 'none'}.",
            )
        specs = [spec for spec in specs if spec.name in wanted]
    runner = Runner(specs, max_workers=max(len(specs), 1), cache_ttl=0)
    try:
        return runner.collect(use_cache=False, deadline=float(platform_settings.HEALTH_DEADLINE))
    finally:
        runner.shutdown()


class Command(BaseCommand):
    help = "Run the /health/ checks now and print the result (exit 0 ok/degraded, 1 unhealthy)."
    requires_system_checks: list[str] = []  # a health probe must run even with warnings

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the /health/ JSON body")
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="NAME",
            help="run only this check (repeatable; commas also accepted)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        only = [n.strip() for item in options["only"] for n in item.split(",") if n.strip()]
        try:
            report = run_checks(only or None)
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if options["json"]:
            self.stdout.write(formats.render_json(report, detail=True))
        else:
            self._table(report)
        if report.status == "unhealthy":
            raise CommandError("unhealthy: a critical check failed", returncode=1)

    def _table(self, report: Report) -> None:
        for r in report.results:
            if not r.enabled:
                continue
            line = (
                f"{r.name:<10}  {r.status:<9}  {'critical' if r.critical else 'optional':<8}  "
                f"{r.latency_ms:8.1f} ms"
            )
            if not r.ok:
                line += f"  {r.reason}: {r.error or ''}"
            elif r.version:
                line += f"  {r.version}"
            self.stdout.write(line)
        counts = json.dumps(
            {
                "healthy": sum(r.ok for r in report.results if r.enabled),
                "unhealthy": sum(not r.ok for r in report.results if r.enabled),
            }
        )
        self.stdout.write(f"status: {report.status} {counts}")
