"""The graph outbox: writes deferred while the graph is down, replayed in order later.

No driver import here (nor anywhere this module imports): the initdb job and ``migrate``
import the app's models without the neo4j/falkordb packages being usable.
"""

from __future__ import annotations

from django.db import models

__all__ = ["GraphMigrationRun", "GraphOutbox"]


class GraphOutbox(models.Model):
    """One deferred, idempotent graph write (a uid-keyed MERGE) and its replay state."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        APPLIED = "applied", "applied"
        PARKED = "parked", "parked"

    created_at = models.DateTimeField(auto_now_add=True)
    cypher = models.TextField(help_text="The idempotent statement to replay.")
    params = models.JSONField(default=dict, blank=True, help_text="Canonical parameters.")
    key = models.CharField(
        max_length=200, blank=True, default="", help_text="The uid(s) written, for operators."
    )
    provider = models.CharField(
        max_length=20, blank=True, default="", help_text="Active provider when deferred."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "id"], name="graph_outbox_status_id")]
        verbose_name = "graph outbox entry"
        verbose_name_plural = "graph outbox"

    def __str__(self) -> str:
        return f"#{self.pk} {self.status} {self.key or self.cypher[:40]}"


class GraphMigrationRun(models.Model):
    """One ``graph_migrate`` run: which graphs, how far it got, whether it finished.

    A re-run of the same command finds its own unfinished run here and resumes it (MERGE on
    uid) instead of refusing the non-empty target it left behind; a target with no
    unfinished run of the same source is still foreign and refused.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"

    source = models.CharField(max_length=300, help_text="Provider and graph, no credentials.")
    target = models.CharField(max_length=300, help_text="Provider and graph, no credentials.")
    mode = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    phase = models.CharField(max_length=20, blank=True, default="")
    nodes_written = models.PositiveBigIntegerField(default=0)
    relationships_written = models.PositiveBigIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["target", "status"], name="graph_migration_target")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source} -> {self.target} {self.status} {self.phase}"
