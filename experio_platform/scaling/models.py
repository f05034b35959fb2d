"""ServiceConfiguration (what operators want), its change history, the reconcile decisions and
the leader lease of the scale-to-zero sidecar (issue 5).

The row carries three kinds of fields: the operator's *desired* state (mode, pinned replicas,
autoscaling parameters, dry-run), the *observed* state written by the reconciler (replicas,
platform status, last action/error), and the reconciler's *memory* (``controller_state``: when
work was last seen, when the service came up, recent recommendations; ``pending_operation``: a
delta operation recorded before it was sent to the platform).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

__all__ = [
    "ScalerLease",
    "ScalingDecision",
    "ServiceConfiguration",
    "ServiceConfigurationChange",
]


class Mode(models.TextChoices):
    KEEP_ALIVE = "keep_alive", "Keep alive"
    KEEP_DOWN = "keep_down", "Keep down"
    AUTO = "auto", "Auto (queue-driven)"
    PAUSED = "paused", "Paused (observe only)"


# Fields an operator edits; a change to any of them is recorded in the history.
DESIRED_FIELDS: tuple[str, ...] = (
    "display_name",
    "platform_resource",
    "mode",
    "previous_mode",
    "pinned_replicas",
    "keep_alive_until",
    "queues",
    "min_replicas",
    "max_replicas",
    "target_messages_per_replica",
    "activation_threshold",
    "idle_seconds_before_zero",
    "min_warm_seconds",
    "scale_down_window_seconds",
    "max_scale_up_step",
    "max_scale_down_step",
    "scale_down_only_when_idle",
    "dry_run",
)


class ServiceConfiguration(models.Model):
    """One deployable service and how many replicas it should run."""

    Mode = Mode

    key = models.SlugField(max_length=64, unique=True, help_text="Stable name, e.g. 'parser'.")
    display_name = models.CharField(max_length=128, blank=True)
    platform_resource = models.CharField(
        max_length=255,
        unique=True,
        help_text=(
            "Omnistrate resource alias/id, or Kubernetes 'deployment/NAME' "
            "('statefulset/NAME', optionally 'NAMESPACE/KIND/NAME'). Defaults to the compose "
            "service name."
        ),
    )
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.AUTO)
    previous_mode = models.CharField(
        max_length=16,
        choices=Mode.choices,
        blank=True,
        help_text="The mode Resume restores (set by Pause).",
    )
    pinned_replicas = models.PositiveIntegerField(
        default=0, help_text="Replicas in keep_alive mode (>= 1)."
    )
    keep_alive_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="keep_alive reverts to keep_down after this time (empty: no expiry).",
    )
    queues = models.JSONField(
        default=list, blank=True, help_text="RabbitMQ queues that feed this worker (auto mode)."
    )
    min_replicas = models.PositiveIntegerField(default=0)
    max_replicas = models.PositiveIntegerField(default=4)
    target_messages_per_replica = models.PositiveIntegerField(default=20)
    activation_threshold = models.PositiveIntegerField(
        default=0, help_text="From zero, scale up when more than this many messages are ready."
    )
    idle_seconds_before_zero = models.PositiveIntegerField(default=600)
    min_warm_seconds = models.PositiveIntegerField(
        default=300, help_text="A service that came up stays up at least this long."
    )
    scale_down_window_seconds = models.PositiveIntegerField(
        default=300,
        help_text="Scale down to the highest recommendation of this rolling window, and not "
        "within this long after a scale-up.",
    )
    max_scale_up_step = models.PositiveIntegerField(default=4, help_text="Replicas added per pass.")
    max_scale_down_step = models.PositiveIntegerField(
        default=1, help_text="Replicas removed per pass."
    )
    scale_down_only_when_idle = models.BooleanField(
        default=True,
        help_text="Scale down only when no message is unacknowledged (the platform picks which "
        "replica stops; a busy one would lose its job). Off: never below the unacked count.",
    )
    dry_run = models.BooleanField(
        default=False, help_text="Decide and log, never call the platform."
    )

    # Observed state (written by the reconciler only).
    observed_replicas = models.IntegerField(null=True, blank=True)
    platform_status = models.CharField(max_length=32, blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    last_action = models.CharField(max_length=255, blank=True)
    last_action_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Backoff after errors: not retried before this time."
    )
    controller_state = models.JSONField(default=dict, blank=True)
    pending_operation = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "service configuration"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_replicas__lte=models.F("max_replicas")),
                name="scaling_min_lte_max",
                violation_error_message="Minimum replicas must not exceed maximum replicas.",
            ),
            models.CheckConstraint(
                condition=~Q(mode="keep_alive") | Q(pinned_replicas__gte=1),
                name="scaling_keep_alive_gte_1",
                violation_error_message="keep_alive needs at least 1 pinned replica.",
            ),
            models.CheckConstraint(
                condition=~Q(mode="keep_alive")
                | Q(
                    pinned_replicas__gte=models.F("min_replicas"),
                    pinned_replicas__lte=models.F("max_replicas"),
                ),
                name="scaling_pinned_within_bounds",
                violation_error_message="Pinned replicas must lie between minimum and maximum.",
            ),
            models.CheckConstraint(
                condition=Q(target_messages_per_replica__gte=1),
                name="scaling_target_gte_1",
                violation_error_message="Target messages per replica must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(max_scale_up_step__gte=1) & Q(max_scale_down_step__gte=1),
                name="scaling_steps_gte_1",
                violation_error_message="Step limits must be at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.key

    def clean(self) -> None:
        """Repeat the database constraints with messages attached to the field to fix."""
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        lo, hi = self.min_replicas, self.max_replicas
        if lo is not None and hi is not None and lo > hi:
            add(
                "min_replicas",
                f"Minimum replicas ({lo}) is above maximum replicas ({hi}); "
                "lower the minimum or raise the maximum.",
            )
        if self.mode == Mode.KEEP_ALIVE:
            if (self.pinned_replicas or 0) < 1:
                add(
                    "pinned_replicas",
                    "Keep alive needs at least 1 replica; use Keep down to stop the service.",
                )
            elif not (self.min_replicas <= self.pinned_replicas <= self.max_replicas):
                add(
                    "pinned_replicas",
                    f"Pinned replicas ({self.pinned_replicas}) must lie between minimum "
                    f"({self.min_replicas}) and maximum ({self.max_replicas}); adjust the bounds.",
                )
        if self.target_messages_per_replica is not None and self.target_messages_per_replica < 1:
            add(
                "target_messages_per_replica",
                "Target messages per replica must be at least 1 (it divides the backlog).",
            )
        for step in ("max_scale_up_step", "max_scale_down_step"):
            if getattr(self, step) is not None and getattr(self, step) < 1:
                add(step, "A step limit must be at least 1, or the service could never move.")
        if not isinstance(self.queues, list) or not all(
            isinstance(q, str) and q.strip() for q in self.queues
        ):
            add("queues", 'Queues must be a list of queue names, e.g. ["parser"].')
        if self.mode == Mode.PAUSED and self.previous_mode == Mode.PAUSED:
            add("previous_mode", "The mode to resume to cannot itself be paused.")
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude: Any = None) -> None:
        # clean() already said the same thing per field; skip the duplicate model-level messages.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            try:
                self.clean()
            except ValidationError:
                return
            raise exc

    # ---- helpers used by the admin, the API and the reconciler -----------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return the desired fields as JSON-friendly values (for the change history)."""
        out: dict[str, Any] = {}
        for name in DESIRED_FIELDS:
            value = getattr(self, name)
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return out

    @property
    def is_paused(self) -> bool:
        return self.mode == Mode.PAUSED


class ServiceConfigurationChange(models.Model):
    """Append-only record of who changed a service's desired state, when and why."""

    service = models.ForeignKey(
        ServiceConfiguration, on_delete=models.SET_NULL, null=True, related_name="changes"
    )
    service_key = models.CharField(max_length=64, db_index=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor = models.CharField(max_length=150, help_text="Username, or 'seed' / 'api' / 'scaler'.")
    source = models.CharField(max_length=32, help_text="admin, api, seed, scaler, shell.")
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, help_text="{field: [old, new]}")

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.service_key} by {self.actor} at {self.changed_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError("The change history is append-only; add a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError("The change history is append-only and cannot be deleted.")


class ScalingDecision(models.Model):
    """A reconcile decision that acted or would have acted, with its inputs. Pruned by age."""

    service = models.ForeignKey(
        ServiceConfiguration, on_delete=models.CASCADE, related_name="decisions"
    )
    decided_at = models.DateTimeField(db_index=True)
    holder = models.CharField(max_length=128, blank=True, help_text="Sidecar instance.")
    epoch = models.BigIntegerField(default=0, help_text="Leader lease epoch (fencing token).")
    backend = models.CharField(max_length=32)
    mode = models.CharField(max_length=16)
    observed_replicas = models.IntegerField(null=True)
    desired_replicas = models.IntegerField()
    outcome = models.CharField(
        max_length=16, help_text="applied, dry_run, busy, pending, error, fenced"
    )
    queue_snapshot = models.JSONField(default=dict)
    reasons = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.observed_replicas} -> {self.desired_replicas} ({self.outcome})"


class ScalerLease(models.Model):
    """The leader lease of the run_scaler replicas; ``epoch`` is the fencing token."""

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=128, blank=True)
    epoch = models.BigIntegerField(default=0)
    acquired_at = models.DateTimeField(null=True)
    renewed_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or '-'} (epoch {self.epoch})"
