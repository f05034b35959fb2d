"""manage.py graph_replay: apply the deferred graph writes waiting in the outbox.

Exit codes: 0 nothing left to do (or another replay is running); 1 the graph was unavailable
or entries were parked in this run; 2 usage/configuration error; 3 with --check: entries wait.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experio_platform.exceptions import ExperioPlatformError
from experio_platform.reporting import EXIT_FAILED, EXIT_PENDING, EXIT_USAGE


class Command(BaseCommand):
    help = "Replay deferred graph writes (the outbox) in order against the active provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="entries to replay (max)")
        parser.add_argument(
            "--dry-run", action="store_true", help="list pending/parked entries, replay nothing"
        )
        parser.add_argument(
            "--check", action="store_true", help="like --dry-run; exit 3 when entries wait"
        )
        parser.add_argument(
            "--requeue-parked",
            action="store_true",
            help="move parked entries back to pending before replaying",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from experio_platform.graph.models import GraphOutbox
        from experio_platform.graph.outbox import replay, requeue_parked

        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.", returncode=EXIT_USAGE)
        if options["dry_run"] or options["check"]:
            entries = list(
                GraphOutbox.objects.exclude(status=GraphOutbox.Status.APPLIED).order_by("id")
            )
            rows: list[dict[str, Any]] = [
                {"id": e.pk, "status": e.status, "key": e.key, "attempts": e.attempts,
                 "error": e.last_error}
                for e in entries
            ]  # fmt: skip
            if options["json"]:
                self.stdout.write(json.dumps({"dry_run": True, "entries": rows}, indent=2))
            else:
                for row in rows:
                    self.stdout.write(
                        f"#{row['id']}  {row['status'].upper():<8} {row['key'] or '-'}  "
                        f"attempts={row['attempts']}  {row['error']}".rstrip()
                    )
                pending = sum(1 for r in rows if r["status"] == "pending")
                self.stdout.write(
                    f"graph_replay: dry run, nothing written: {pending} pending, "
                    f"{len(rows) - pending} parked"
                )
            if options["check"] and any(r["status"] == "pending" for r in rows):
                raise CommandError("Deferred graph writes are waiting.", returncode=EXIT_PENDING)
            return
        requeued = requeue_parked() if options["requeue_parked"] else 0
        try:
            report = replay(limit=options["limit"])
        except ExperioPlatformError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        data = {**report.to_dict(), "requeued": requeued}
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
        else:
            for error in report.errors:
                self.stdout.write(f"  {error}")
            state = " (another replay is running)" if report.busy else ""
            self.stdout.write(
                f"graph_replay: {report.applied} applied, {report.parked} parked, "
                f"{report.remaining} pending{state}"
            )
        if report.stopped or report.parked:
            raise CommandError(
                f"Replay incomplete: {report.stopped or 'entries were parked'}",
                returncode=EXIT_FAILED,
            )
