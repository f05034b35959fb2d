"""manage.py graph_migrate --source neo4j --target falkordb: copy a whole graph across providers.

Exit codes: 0 copied and verified (or --dry-run); 1 refused (non-empty target), a provider
failed, or verification found differences (listed); 2 usage/configuration error.

Resumable: every run is journaled in Postgres (GraphMigrationRun). Re-running the same command
after an interruption finds its own unfinished run for that source and target and continues
with MERGE on uid (nothing is written twice); a non-empty target without such a run is foreign
and still refused.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from experio_platform.exceptions import ConfigurationError
from experio_platform.graph.exceptions import GraphError
from experio_platform.reporting import EXIT_FAILED, EXIT_USAGE

PROVIDERS = ("neo4j", "falkordb")


class Command(BaseCommand):
    help = (
        "Copy every node and relationship from one graph provider to the other, in batches, "
        "then verify counts per label/type and a random sample. Never deletes from the source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=PROVIDERS)
        parser.add_argument("--target", required=True, choices=PROVIDERS)
        parser.add_argument(
            "--source-graph", help="FalkorDB graph / Neo4j database of the source (default: "
            "FALKOR_GRAPH / NEO4J_DATABASE from the settings store)",
        )  # fmt: skip
        parser.add_argument("--target-graph", help="FalkorDB graph / Neo4j database of the target")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--into-existing",
            action="store_true",
            help="write into a non-empty target, MERGE on uid (an interrupted run of the same "
            "migration is resumed without it)",
        )
        mode.add_argument(
            "--clear-target",
            action="store_true",
            help="delete everything in the TARGET graph first (never touches the source)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the inventory and plan; write nothing"
        )
        parser.add_argument("--batch-size", type=int, default=None, help="rows per UNWIND batch")
        parser.add_argument("--sample", type=int, default=100, help="nodes compared at the end")
        parser.add_argument("--no-constraints", action="store_true", help="skip unique uid")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from dataclasses import replace

        from experio_platform.graph.handler import build_provider, current_config
        from experio_platform.graph.journal import DatabaseJournal
        from experio_platform.graph.migrate import MigrationError, describe, migrate_graph

        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.", returncode=EXIT_USAGE)
        try:
            src_cfg = current_config(options["source"])
            dst_cfg = current_config(options["target"])
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        if options["source_graph"]:
            src_cfg = replace(src_cfg, database=options["source_graph"])
        if options["target_graph"]:
            dst_cfg = replace(dst_cfg, database=options["target_graph"])
        source, target = build_provider(src_cfg), build_provider(dst_cfg)
        try:
            report = migrate_graph(
                source,
                target,
                into_existing=options["into_existing"],
                clear_target=options["clear_target"],
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                sample=options["sample"],
                progress=not options["no_progress"] and not options["json"],
                constraints=not options["no_constraints"],
                log=lambda msg: self.stderr.write(msg),
                journal=DatabaseJournal(),
            )
        except MigrationError as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILED) from exc
        except GraphError as exc:
            raise CommandError(
                f"{exc} Re-run the same command to continue (it resumes its unfinished run "
                "idempotently).",
                returncode=EXIT_FAILED,
            ) from exc
        finally:
            source.close()
            target.close()
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, default=str))
        else:
            for line in describe(report):
                self.stdout.write(line)
        if report.differences:
            raise CommandError(
                f"Verification found {len(report.differences)} difference(s) (listed above).",
                returncode=EXIT_FAILED,
            )
