"""Seed the default ServiceConfiguration rows (``seed_autoscaling_config`` and ``initdb``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from experio_platform.exceptions import ExperioPlatformError
from experio_platform.reporting import SeedReport
from experio_platform.scaling.defaults import SEEDED_FIELDS, effective_defaults
from experio_platform.scaling.history import attributed
from experio_platform.scaling.models import ServiceConfiguration

COMMAND = "seed_autoscaling_config"


class UnknownServiceError(ExperioPlatformError):
    """``only`` names a service key that is not among the defaults (exit code 2)."""


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run or a run with errors."""


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def _describe(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())


def _normalise_only(only: list[str] | None, known: dict[str, Any]) -> list[str] | None:
    if not only:
        return None
    keys = [k.strip() for item in only for k in item.split(",") if k.strip()]
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise UnknownServiceError(
            f"Unknown service key(s) for --only: {', '.join(unknown)}.",
            hint=f"Known keys: {', '.join(sorted(known))}.",
        )
    return keys


def seed_autoscaling_config(
    *, force: bool = False, only: list[str] | None = None, dry_run: bool = False
) -> SeedReport:
    """Create the missing default ServiceConfiguration rows; leave operator edits alone.

    Args:
        force: reset existing rows' seeded fields to the defaults (observed state, controller
            memory and history are never touched; rows not among the defaults are never deleted).
        only: service keys to seed (commas accepted); default all.
        dry_run: report what would change (a per-field diff), write nothing.

    Returns:
        A ``SeedReport``: one line per service (created / updated / unchanged / error).
        With any error line nothing is written.

    Raises:
        ConfigurationError: ``AUTOSCALING_DEFAULTS`` is malformed.
        UnknownServiceError: ``only`` names an unknown key.
    """
    rows, touched = effective_defaults()
    keys = _normalise_only(only, rows) or list(rows)
    report = SeedReport(COMMAND, dry_run=dry_run)
    try:
        with transaction.atomic():
            existing = {
                s.key: s
                for s in ServiceConfiguration.objects.select_for_update().filter(key__in=keys)
            }
            for key in keys:
                _seed_one(report, key, rows[key], existing.get(key), force, touched)
            if dry_run or report.has_errors:
                raise _Rollback
    except _Rollback:
        pass
    return report


def _seed_one(
    report: SeedReport,
    key: str,
    fields: dict[str, Any],
    row: ServiceConfiguration | None,
    force: bool,
    touched: set[str],
) -> None:
    source = "setting" if key in touched else "default"
    fields = {k: fields[k] for k in SEEDED_FIELDS if k in fields}
    if row is None:
        row = ServiceConfiguration(key=key, **fields)
        if _invalid(report, key, source, row):
            return
        with attributed("seed", "seed", "seeded default"):
            row.save()
        brief = {k: fields[k] for k in ("mode", "min_replicas", "max_replicas", "queues")}
        report.add(key, "created", source, None, _describe(brief))
        return
    differing = {k: v for k, v in fields.items() if getattr(row, k) != v}
    if not differing:
        report.add(key, "unchanged", source)
        return
    old = _describe({k: getattr(row, k) for k in differing})
    if not force:
        report.add(
            key,
            "unchanged",
            source,
            detail=f"operator edits kept: {', '.join(differing)}; --force resets them",
        )
        return
    for k, v in differing.items():
        setattr(row, k, v)
    if fields.get("mode") != "keep_alive":
        row.keep_alive_until = None
    if _invalid(report, key, source, row):
        return
    with attributed("seed", "seed", "--force reset to defaults"):
        row.save()
    report.add(key, "updated", source, old, _describe(differing))


def _invalid(report: SeedReport, key: str, source: str, row: ServiceConfiguration) -> bool:
    try:
        row.full_clean(validate_unique=True)
    except ValidationError as exc:
        msgs = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
        report.add(key, "error", source, detail=msgs)
        return True
    return False
