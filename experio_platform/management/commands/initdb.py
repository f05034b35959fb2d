"""``manage.py initdb``: the deploy job (validate, wait, migrate, accounts, seeds)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experio_platform.config.initdb import DatabaseUnavailable, run_initdb
from experio_platform.config.system_checks import enforce_encryption_keys
from experio_platform.exceptions import ConfigurationError
from experio_platform.reporting import EXIT_FAILED, EXIT_USAGE, add_report_arguments, emit


class Command(BaseCommand):
    help = (
        "Prepare the database for the server: validate the environment (touching nothing), "
        "wait for the database, migrate under an advisory lock, then ensure the default "
        "accounts and seed the settings store and the autoscaling rows in one locked "
        "transaction. Never connects to a graph database. Safe to re-run and to run "
        "concurrently on PostgreSQL. Exit codes: 0 ok, 1 failed (invalid values, database "
        "unavailable; nothing written), 2 configuration error, 3 --check found pending changes."
    )
    # The graph/health checks of other apps must not run here (no network but the database).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-migrate",
            action="store_true",
            help="Do not run migrate (for hosts that migrate in another step).",
        )
        parser.add_argument(
            "--sync-passwords",
            action="store_true",
            help="Also set the existing admin's password to DJANGO_SUPERUSER_PASSWORD.",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="How long to wait for the database before failing (default 60).",
        )
        add_report_arguments(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        dry_run = opts["dry_run"] or opts["check"]
        try:
            enforce_encryption_keys(self.stderr.write)
            report = run_initdb(
                skip_migrate=opts["skip_migrate"],
                dry_run=dry_run,
                sync_passwords=opts["sync_passwords"],
                wait=opts["wait"],
                alias=opts.get("database") or "default",
                log=self.stderr.write,
            )
        except DatabaseUnavailable as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILED) from exc
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        emit(
            self,
            report,
            as_json=opts["json"],
            check=opts["check"],
            failed="initdb failed (errors listed above); nothing was written.",
        )
