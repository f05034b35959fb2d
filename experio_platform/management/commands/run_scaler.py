"""``manage.py run_scaler``: the scale-to-zero sidecar (one pass with --once, else a loop)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experio_platform.exceptions import ConfigurationError
from experio_platform.reporting import EXIT_FAILED, EXIT_USAGE
from experio_platform.scaling.backends import BACKENDS, BackendError, build_backend
from experio_platform.scaling.lease import LeaderLease
from experio_platform.scaling.metrics import reader_from_settings
from experio_platform.scaling.reconciler import PassReport, Reconciler
from experio_platform.scaling.runner import StopFlag, default_holder, run_loop


class Command(BaseCommand):
    help = (
        "Reconcile ServiceConfiguration rows with the platform's replica counts. Several "
        "replicas may run: a database lease elects one leader that acts. SIGTERM finishes the "
        "current pass and exits 0. Exit codes: 0 ok, 1 --once pass had errors, 2 usage or "
        "configuration error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")
        parser.add_argument(
            "--interval", type=float, help="Seconds between passes (default SCALER_INTERVAL)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Decide and record, never call the platform."
        )
        parser.add_argument(
            "--backend", choices=BACKENDS, help="Platform backend (default SCALER_BACKEND)."
        )
        parser.add_argument(
            "--only",
            action="append",
            metavar="KEY",
            help="Reconcile only this service key (repeatable; commas also accepted).",
        )
        parser.add_argument(
            "--holder", help="Name of this replica in the lease (default hostname:pid)."
        )
        parser.add_argument(
            "--lease-ttl", type=float, help="Lease lifetime in seconds (default SCALER_LEASE_TTL)."
        )
        parser.add_argument(
            "--no-lease",
            action="store_true",
            help="Act without leader election (only when exactly one replica runs).",
        )
        parser.add_argument("--json", action="store_true", help="Print each pass as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        from experio_platform.conf import platform_settings

        interval = opts["interval"] or float(platform_settings.SCALER_INTERVAL)
        ttl = opts["lease_ttl"] or float(platform_settings.SCALER_LEASE_TTL)
        if interval <= 0 or ttl <= 0:
            raise CommandError(
                "--interval and --lease-ttl must be positive.", returncode=EXIT_USAGE
            )
        if not opts["once"] and not opts["no_lease"] and ttl <= interval:
            raise CommandError(
                f"The lease TTL ({ttl:g}s) must exceed the interval ({interval:g}s), or the "
                "leader loses its lease between passes. Raise SCALER_LEASE_TTL.",
                returncode=EXIT_USAGE,
            )
        try:
            backend = build_backend(opts["backend"])
            backend.prepare()
        except (ConfigurationError, BackendError) as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        only = _only_keys(opts["only"])
        holder = opts["holder"] or default_holder()
        lease = None
        if not opts["no_lease"]:
            lease = LeaderLease(platform_settings.SCALER_LEASE_NAME, holder, ttl)
        reconciler = Reconciler(
            backend,
            reader_from_settings(),
            lease=lease,
            holder=holder,
            dry_run=opts["dry_run"],
            operation_timeout=float(platform_settings.SCALER_OPERATION_TIMEOUT),
            backoff_base=float(platform_settings.SCALER_BACKOFF_BASE),
            backoff_max=float(platform_settings.SCALER_BACKOFF_MAX),
            retention_days=float(platform_settings.SCALER_DECISION_RETENTION_DAYS),
        )
        try:
            if opts["once"]:
                report = reconciler.run_pass(only=only)
                self._print(report, opts["json"])
                if lease is not None:
                    lease.release()
                if report.errors:
                    raise CommandError(
                        f"{report.errors} service(s) failed; see last_error on their rows.",
                        returncode=EXIT_FAILED,
                    )
                return
            stop = StopFlag()
            stop.install()
            self.stdout.write(
                f"run_scaler {holder}: backend {backend.name}, every {interval:g}s, "
                f"lease {'off' if lease is None else f'{ttl:g}s'}"
                f"{', dry run' if opts['dry_run'] else ''}"
            )
            self.stdout.flush()
            run_loop(
                reconciler,
                interval=interval,
                stop=stop,
                on_pass=lambda r: self._print(r, opts["json"]),
                only=only,
            )
            self.stdout.write(f"run_scaler {holder}: stopped")
        finally:
            backend.close()
            if reconciler.metrics is not None:
                reconciler.metrics.close()

    def _print(self, report: PassReport, as_json: bool) -> None:
        if as_json:
            payload = {
                "leader": report.leader,
                "epoch": report.epoch,
                "rows": [vars(r) for r in report.rows],
            }
            self.stdout.write(json.dumps(payload))
        elif not report.leader:
            self.stdout.write("standby: another replica holds the lease")
        else:
            for r in report.rows:
                change = f"{r.observed} -> {r.desired}" if r.desired is not None else "-"
                line = f"{r.key:<16} {r.outcome.upper():<9} {change}"
                self.stdout.write(f"{line}  ({r.detail})" if r.detail else line)
        self.stdout.flush()


def _only_keys(values: list[str] | None) -> list[str] | None:
    """Split ``--only`` values on commas; an unknown key is a usage error, not a silent no-op."""
    if not values:
        return None
    from experio_platform.scaling.models import ServiceConfiguration

    keys = [k.strip() for v in values for k in v.split(",") if k.strip()]
    known = set(ServiceConfiguration.objects.values_list("key", flat=True))
    unknown = sorted(set(keys) - known)
    if unknown:
        raise CommandError(
            f"Unknown service key(s) for --only: {', '.join(unknown)}. Known keys: "
            f"{', '.join(sorted(known)) or 'none (run seed_autoscaling_config)'}.",
            returncode=EXIT_USAGE,
        )
    return keys
