"""The Postgres-backed journal of ``graph_migrate`` runs (what makes a re-run resume)."""

from __future__ import annotations

from experio_platform.graph.models import GraphMigrationRun

__all__ = ["DatabaseJournal"]


class DatabaseJournal:
    """Record each run in :class:`GraphMigrationRun`; see :class:`MigrationJournal`."""

    def __init__(self) -> None:
        self.run: GraphMigrationRun | None = None

    def unfinished(self, source: str, target: str) -> bool:
        return GraphMigrationRun.objects.filter(
            source=source, target=target, status=GraphMigrationRun.Status.RUNNING
        ).exists()

    def begin(self, source: str, target: str, mode: str) -> None:
        # Older unfinished runs into this target are superseded by this one: one open run
        # per target, so a later foreign source is not mistaken for a resume.
        GraphMigrationRun.objects.filter(
            target=target, status=GraphMigrationRun.Status.RUNNING
        ).update(status=GraphMigrationRun.Status.FINISHED, phase="superseded")
        self.run = GraphMigrationRun.objects.create(source=source, target=target, mode=mode)

    def progress(self, phase: str, nodes: int, relationships: int) -> None:
        if self.run is None:
            return
        self.run.phase, self.run.nodes_written = phase, nodes
        self.run.relationships_written = relationships
        self.run.save(update_fields=["phase", "nodes_written", "relationships_written",
                                     "updated_at"])  # fmt: skip

    def finish(self, differences: int) -> None:
        if self.run is None:
            return
        self.run.differences = differences
        if not differences:  # with differences the run stays open: a re-run redoes it
            self.run.status = GraphMigrationRun.Status.FINISHED
        self.run.save(update_fields=["differences", "status", "updated_at"])
