"""The graph outbox: writes deferred while the graph is down, replayed in order later.

No driver import here (nor anywhere this module imports): the initdb job and ``migrate``
import the app's models without the neo4j/falkordb packages being usable.
"""

from __future__ import annotations

from django.db import models

__all__ = ["GraphOutbox"]


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
