"""manage.py graph_status: the active provider, connectivity, server version, counts, schema.

Exit codes: 0 the graph answered; 1 it did not (details printed); 2 configuration error.
Never creates the graph: counts are read only when the FalkorDB graph exists.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from experio_platform.exceptions import ConfigurationError
from experio_platform.graph.exceptions import GraphError
from experio_platform.reporting import EXIT_FAILED, EXIT_USAGE


class Command(BaseCommand):
    help = "Show the active graph provider, connectivity, server version, counts and schema."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=3.0, help="seconds for the probe")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from experio_platform.graph import get_graph
        from experio_platform.graph.dialect import render
        from experio_platform.graph.outbox import pending_count

        try:
            graph = get_graph()
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        except DatabaseError as exc:
            # The provider and its credentials live in the settings store: without PostgreSQL
            # there is no way to know which graph to ask.
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CommandError(
                f"The settings store (PostgreSQL) cannot be read, so the active graph provider "
                f"is unknown: {type(exc).__name__}: {first_line}. Check DATABASE_URL / DB_* "
                "and that the database is up, then run graph_status again.",
                returncode=EXIT_FAILED,
            ) from exc
        health = graph.health(options["timeout"])
        data: dict[str, Any] = {
            "provider": graph.name,
            "target": graph.safe_target,
            "dialect": graph.dialect.name,
            "ok": health.ok,
            "latency_ms": health.latency_ms,
            "server_version": health.server_version,
            "error": health.error,
            "breaker": graph.breaker.state,
        }
        try:
            data["outbox_pending"] = pending_count()
        except Exception as exc:  # the table may not be migrated yet
            data["outbox_pending"] = f"unknown ({type(exc).__name__})"
        if health.ok:
            try:
                exists = True
                if graph.name == "falkordb":
                    exists = graph.graph_name in graph.command("GRAPH.LIST")  # type: ignore[attr-defined]
                data["graph_exists"] = exists
                if exists:
                    d = graph.dialect
                    data["nodes"] = graph.run(render("count_nodes", d), read_only=True).value()
                    data["relationships"] = graph.run(
                        render("count_relationships", d), read_only=True
                    ).value()
                    data["labels"] = {
                        r["label"]: r["count"]
                        for r in graph.run(render("count_by_label", d), read_only=True)
                    }
                    data["types"] = {
                        r["type"]: r["count"]
                        for r in graph.run(render("count_by_type", d), read_only=True)
                    }
                    schema = getattr(graph, "schema", None)
                    data["schema"] = schema() if schema else None
            except GraphError as exc:
                data["ok"] = False
                data["error"] = exc.message
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            for key, value in data.items():
                if isinstance(value, dict):
                    self.stdout.write(f"{key}:")
                    for k, v in value.items():
                        self.stdout.write(f"  {k}: {v}")
                else:
                    self.stdout.write(f"{key}: {value}")
        if not data["ok"]:
            raise CommandError(
                f"The graph is not reachable: {data['error']}", returncode=EXIT_FAILED
            )
