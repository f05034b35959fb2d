"""``manage.py seed_autoscaling_config``: create the default ServiceConfiguration rows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experio_platform.exceptions import ConfigurationError
from experio_platform.reporting import EXIT_USAGE, add_report_arguments, emit
from experio_platform.scaling.seed import UnknownServiceError, seed_autoscaling_config


class Command(BaseCommand):
    help = (
        "Create the default ServiceConfiguration rows (neo4j, falkordb, jupyterlab and the job "
        "workers). Existing rows keep operator edits unless --force. Exit codes: 0 ok, 1 failed "
        "(nothing written), 2 usage/configuration error, 3 --check found pending changes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Reset existing rows' seeded fields (mode, bounds, queues, ...) to the defaults. "
            "Never deletes rows and never touches observed state or history.",
        )
        parser.add_argument(
            "--only",
            action="append",
            metavar="KEY",
            help="Seed only this service key (repeatable; commas also accepted).",
        )
        add_report_arguments(
            parser,
            dry_run_help="Print the per-field diff, write nothing.",
            check_help="Like --dry-run; exit 3 when something would change.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        dry_run = opts["dry_run"] or opts["check"]
        try:
            report = seed_autoscaling_config(
                force=opts["force"], only=opts["only"], dry_run=dry_run
            )
        except (ConfigurationError, UnknownServiceError) as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        emit(
            self,
            report,
            as_json=opts["json"],
            check=opts["check"],
            failed="Some rows are invalid; nothing was written.",
        )
