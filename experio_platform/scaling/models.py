"""ServiceConfiguration (what operators want), its change history, the reconcile decisions and
the leader lease of the scale-to-zero sidecar (issue 5).

The row carries three kinds of fields: the operator's *desired* state (mode, pinned replicas,
autoscaling parameters, dry-run), the *observed* state written by the reconciler (replicas,
platform status, last action/error), and the reconciler's *memory* (``controller_state``: when
work was last seen, when the service came up, recent recommendations; ``pending_operation``: a
delta operation recorded before it was sent to the platform).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import Q

from experio_platform.compat import check_constraint
from experio_platform.scaling.defaults import SEEDED_FIELDS

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


# Fields an operator edits; a change to any of them is recorded in the history. The seed sets
# all of them but the two that only operator actions set.
DESIRED_FIELDS: tuple[str, ...] = (*SEEDED_FIELDS, "previous_mode", "keep_alive_until")


@dataclass(frozen=True)
class ChangeContext:
    """Who makes the changes inside ``attributed()`` and why (copied into each history entry)."""

    actor: str
    source: str
    reason: str = ""
    user: Any = None


_context: ContextVar[ChangeContext | None] = ContextVar("experio_scaling_change", default=None)


@contextmanager
def attributed(
    actor: str, source: str, reason: str = "", user: Any = None
) -> Iterator[ChangeContext]:
    """Attribute every ServiceConfiguration change made inside the block (admin, API, seed,
    scaler set this; without it a change is still recorded, as source ``orm``)."""
    token = _context.set(ChangeContext(actor, source, reason, user))
    try:
        yield _context.get()  # type: ignore[misc]  # just set: never None here
    finally:
        _context.reset(token)


def _unattributed() -> ChangeContext:
    # A shell or a script wrote through the ORM: the OS user is the best "who" we have.
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (some containers)
        who = "unknown"
    return ChangeContext(who, "orm", "direct ORM write (no reason given)")


def _jsonable(value: Any) -> Any:
    # One form per instant: an aware datetime in any zone and the database's UTC value must
    # compare equal, or every save would log a spurious keep_alive_until change.
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    return value


def _record(pk: Any, key: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if changes:
        _append(pk, key, changes)


def _record_deletions(qs: models.QuerySet[Any]) -> list[Any]:
    """Lock the rows of ``qs`` and append one entry per row about to be deleted (every desired
    field ``[old, None]``); return their pks. Call inside the deleting transaction."""
    rows = _rows(qs.select_for_update())
    for row in rows.values():
        key = row.pop("key")
        # Not linked to the row (service=None): SET_NULL would unlink it on the delete anyway.
        _append(None, key, {k: [v, None] for k, v in row.items()})
    return list(rows)


def _append(pk: Any, key: str, changes: dict[str, list[Any]]) -> None:
    ctx = _context.get() or _unattributed()
    ServiceConfigurationChange.objects.create(
        service_id=pk,
        service_key=key,
        changed_by=ctx.user if getattr(ctx.user, "pk", None) else None,
        actor=ctx.actor,
        source=ctx.source,
        reason=ctx.reason,
        changes=changes,
    )


def _rows(qs: models.QuerySet[Any]) -> dict[Any, dict[str, Any]]:
    """The desired fields of the rows of ``qs`` by pk, as the history stores them."""
    return {
        row.pop("pk"): {k: _jsonable(v) for k, v in row.items()}
        for row in qs.values("pk", "key", *DESIRED_FIELDS)
    }


class ServiceConfigurationQuerySet(models.QuerySet["ServiceConfiguration"]):
    """Bulk writes that touch desired fields append to the history like ``save()`` does, so an
    ORM ``update()``/``bulk_update()``/``bulk_create()``/``delete()`` cannot change a mode or
    remove a row unrecorded."""

    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete the rows, appending one history entry per row (same transaction)."""
        with transaction.atomic(using=self.db):
            base = self.model._base_manager.using(self.db)
            pks = _record_deletions(base.filter(pk__in=self.values("pk")))
            # Delete exactly the rows recorded (locked until commit): a matching row committed
            # by someone else meanwhile is left alone rather than deleted unrecorded.
            return super(ServiceConfigurationQuerySet, self.filter(pk__in=pks)).delete()

    # As on QuerySet.delete: templates must not call it, and the manager gets no delete()
    # (ServiceConfiguration.objects.delete() would empty the table).
    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def update(self, **kwargs: Any) -> int:
        if not set(kwargs) & set(DESIRED_FIELDS):
            return super().update(**kwargs)  # observed state only (the reconciler): no history
        with transaction.atomic(using=self.db):
            before = _rows(self.select_for_update())
            count = super().update(**kwargs)
            after = _rows(self.model._base_manager.using(self.db).filter(pk__in=before))
            for pk, row in after.items():
                _record(pk, row.pop("key"), before[pk], row)
        return count

    def bulk_update(
        self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        fields = list(fields)
        objs = list(objs)
        if not set(fields) & set(DESIRED_FIELDS):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        pks = [o.pk for o in objs]
        with transaction.atomic(using=self.db):
            base = self.model._base_manager.using(self.db)
            before = _rows(base.select_for_update().filter(pk__in=pks))
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            for pk, row in _rows(base.filter(pk__in=pks)).items():
                _record(pk, row.pop("key"), before[pk], row)
        return count

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            for obj in created:
                if obj.pk is not None:  # backends that return no pks cannot link the entry
                    _record(obj.pk, obj.key, {}, obj.snapshot())
        return created


class ServiceConfiguration(models.Model):
    """One deployable service and how many replicas it should run.

    Every change of a desired field, and every deletion, is appended to
    ``ServiceConfigurationChange`` by ``save()``, ``delete()`` and this model's querysets,
    whichever path made it; wrap writes in ``attributed()`` to say who and why. Only raw SQL
    bypasses it.
    """

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

    objects = ServiceConfigurationQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        verbose_name = "service configuration"
        constraints = [
            check_constraint(
                condition=Q(min_replicas__lte=models.F("max_replicas")),
                name="scaling_min_lte_max",
                violation_error_message="Minimum replicas must not exceed maximum replicas.",
            ),
            check_constraint(
                condition=~Q(mode="keep_alive") | Q(pinned_replicas__gte=1),
                name="scaling_keep_alive_gte_1",
                violation_error_message="keep_alive needs at least 1 pinned replica.",
            ),
            check_constraint(
                condition=~Q(mode="keep_alive")
                | Q(
                    pinned_replicas__gte=models.F("min_replicas"),
                    pinned_replicas__lte=models.F("max_replicas"),
                ),
                name="scaling_pinned_within_bounds",
                violation_error_message="Pinned replicas must lie between minimum and maximum.",
            ),
            check_constraint(
                condition=Q(target_messages_per_replica__gte=1),
                name="scaling_target_gte_1",
                violation_error_message="Target messages per replica must be at least 1.",
            ),
            check_constraint(
                condition=Q(max_scale_up_step__gte=1) & Q(max_scale_down_step__gte=1),
                name="scaling_steps_gte_1",
                violation_error_message="Step limits must be at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.key

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, and append what changed in the desired fields to the history (same
        transaction: a rolled-back save leaves no entry)."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not set(update_fields) & set(DESIRED_FIELDS):
            super().save(*args, **kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            before: dict[str, Any] = {}
            if not self._state.adding and self.pk is not None:
                before = _rows(type(self)._base_manager.using(using).filter(pk=self.pk)).get(
                    self.pk, {}
                )
                before.pop("key", None)
            super().save(*args, **kwargs)
            _record(self.pk, self.key, before, self.snapshot())

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Delete, and append the row's last desired state (every field ``[old, None]``) to the
        history (same transaction: a rolled-back delete leaves no entry)."""
        using = using or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            if self.pk is not None:  # else Model.delete() refuses below
                _record_deletions(type(self)._base_manager.using(using).filter(pk=self.pk))
            return super().delete(using=using, keep_parents=keep_parents)

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
        return {name: _jsonable(getattr(self, name)) for name in DESIRED_FIELDS}

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
