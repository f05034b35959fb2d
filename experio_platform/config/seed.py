"""Seeding the settings store from ``--set`` values, the environment and the registry defaults.

``seed_config()`` is what ``manage.py seed_config`` and ``initdb`` call. Rules (issue 3, §2):

* desired value per key: ``--set KEY=VALUE`` > environment (``VAR``, then ``VAR_FILE``) >
  host override (``CONFIG_OVERRIDES``) > registry default;
* a missing row is created;
* env-managed keys: the environment wins whenever it is set (an operator's ``--set`` too);
* operator-set rows (source ``admin`` or ``cli``) of seed-once keys are kept; a disagreeing
  environment (or ``--force``) reports DRIFT; ``--override-admin`` writes over them;
* untouched rows (source ``default``/``settings``/``env``) follow a changed environment value or
  a changed code default; a row seeded from a variable that is now unset is kept (``--force``
  resets it to the default);
* ``--force`` writes the desired value of every key in scope except operator-set ones;
* unknown rows (keys no longer in the registry) are reported, and deleted only with ``prune``;
* any invalid value: every error is reported by key and variable, nothing is written;
* a no-op writes nothing (no version bump, no change-log row); the SQL query count of a run is
  constant, whatever the number of keys (one locking read of all rows).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction

from experio_platform.config import crypto, store
from experio_platform.config.registry import (
    ConfigKey,
    ConfigValueError,
    get_registry,
)
from experio_platform.exceptions import ConfigurationError
from experio_platform.reporting import SeedReport

COMMAND = "seed_config"
OPERATOR_SOURCES = frozenset({"admin", "cli"})
# Transaction-level advisory lock serialising every writer that seeds the store (seed_config,
# initdb); advisory locks are re-entrant within a session, so initdb may hold it already.
SEED_LOCK_ID = 0x45585043_0001  # "EXPC" + 1


class SeedUsageError(ConfigurationError):
    """Bad arguments to seed_config (unknown key or namespace): exit code 2."""


@dataclass(frozen=True)
class Desired:
    """The value a key should have and where it comes from (``origin`` names the variable)."""

    value: Any
    source: str  # cli | env | settings | default
    origin: str


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """Turn ``["KEY=VALUE", ...]`` into a dict; raise SeedUsageError on a malformed item."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SeedUsageError(f"--set expects KEY=VALUE, got {item.split('=')[0]!r}.")
        out[name.strip()] = value
    return out


def split_names(values: Iterable[str] | None) -> list[str]:
    """Flatten repeatable, comma-separated option values."""
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def select_keys(
    only: Iterable[str] | None = None, namespaces: Iterable[str] | None = None
) -> list[ConfigKey]:
    """Return the registry keys in scope; raise SeedUsageError naming unknown ones."""
    registry = get_registry()
    only_l, ns_l = split_names(only), split_names(namespaces)
    unknown = [n for n in only_l if n not in registry]
    if unknown:
        raise SeedUsageError(
            f"Unknown settings-store key(s): {', '.join(unknown)}.",
            hint="Known keys: " + ", ".join(registry) + ".",
        )
    known_ns = sorted({k.namespace for k in registry.values()})
    bad_ns = [n for n in ns_l if n not in known_ns]
    if bad_ns:
        raise SeedUsageError(
            f"Unknown namespace(s): {', '.join(bad_ns)}.",
            hint="Known namespaces: " + ", ".join(known_ns) + ".",
        )
    return [
        k
        for k in registry.values()
        if (not only_l or k.name in only_l) and (not ns_l or k.namespace in ns_l)
    ]


def desired_values(
    keys: Iterable[ConfigKey],
    *,
    set_values: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, Desired], list[tuple[str, str, str]]]:
    """Return ``({key: Desired}, [(key, origin, message), ...])``; touches no database."""
    from experio_platform.conf import platform_settings

    environ = os.environ if environ is None else environ
    set_values = set_values or {}
    overrides = platform_settings.CONFIG_OVERRIDES or {}
    desired: dict[str, Desired] = {}
    errors: list[tuple[str, str, str]] = []
    for key in keys:
        try:
            if key.name in set_values:
                origin = f"--set {key.name}"
                if not set_values[key.name].strip():
                    # As for environment variables, an empty value means "unset"; storing ""
                    # would hide the environment and the default behind an operator value.
                    errors.append(
                        (
                            key.name,
                            origin,
                            f"--set {key.name}= is empty (an empty value counts as unset). To "
                            "drop an operator value and follow the environment or the default "
                            f"again: seed_config --force --override-admin --only {key.name}",
                        )
                    )
                    continue
                desired[key.name] = Desired(
                    key.parse(set_values[key.name], origin=origin), "cli", origin
                )
                continue
            found = key.from_environ(environ)
            if found is not None:
                var, raw = found
                desired[key.name] = Desired(key.parse(raw, origin=var), "env", var)
                continue
            override = overrides.get(key.name)
            if override not in (None, ""):
                origin = f"CONFIG_OVERRIDES[{key.name!r}]"
                desired[key.name] = Desired(key.parse(override, origin=origin), "settings", origin)
                continue
            desired[key.name] = Desired(key.default, "default", "default")
        except ConfigValueError as exc:
            origin = _origin_of(key, set_values, environ)
            errors.append((key.name, origin, exc.message))
    return desired, errors


def _origin_of(key: ConfigKey, set_values: Mapping[str, str], environ: Mapping[str, str]) -> str:
    if key.name in set_values:
        return "cli"
    for var in key.variables:
        if environ.get(var) or environ.get(f"{var}_FILE"):
            return "env"
    return "settings"


def validate(
    *,
    set_values: Mapping[str, str] | None = None,
    only: Iterable[str] | None = None,
    namespaces: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str, str, str]]:
    """Return every validation error ``(key, origin, message)`` without touching the database."""
    keys = _scope(set_values or {}, only, namespaces)
    return desired_values(keys, set_values=set_values, environ=environ)[1]


def _scope(
    set_values: Mapping[str, str],
    only: Iterable[str] | None,
    namespaces: Iterable[str] | None,
) -> list[ConfigKey]:
    keys = select_keys(only, namespaces)
    names = {k.name for k in keys}
    registry = get_registry()
    unknown = [n for n in set_values if n not in registry]
    if unknown:
        raise SeedUsageError(f"--set names unknown settings-store key(s): {', '.join(unknown)}.")
    outside = [n for n in set_values if n not in names]
    if outside:
        raise SeedUsageError(
            f"--set names key(s) outside --only/--namespace: {', '.join(outside)}.",
            hint="Add them to --only or drop the narrowing flags.",
        )
    return keys


def _lock(alias: str) -> None:
    if connections[alias].vendor == "postgresql":
        with connections[alias].cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [SEED_LOCK_ID])


def seed_config(
    *,
    set_values: Mapping[str, str] | None = None,
    force: bool = False,
    override_admin: bool = False,
    only: Iterable[str] | None = None,
    namespaces: Iterable[str] | None = None,
    prune: bool = False,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    actor: str = COMMAND,
) -> SeedReport:
    """Bring the settings store to the desired values, in one transaction.

    Args:
        set_values: ``{KEY: raw value}`` from ``--set`` (wins over everything).
        force: write the desired value of every key in scope, except operator-set ones.
        override_admin: also write over values set in the admin / with ``--set`` / ``set()``.
        only, namespaces: narrow the scope (repeatable, commas accepted).
        prune: delete rows of keys that are no longer in the registry (unrestricted scope only).
        dry_run: plan only; reads, writes nothing, takes no lock.
        environ: the environment to seed from (default ``os.environ``).
        actor: recorded in the change log.

    Returns:
        A SeedReport; with any ``error`` line nothing was written.

    Raises:
        SeedUsageError: unknown key/namespace in the arguments.
        django.db.DatabaseError: the store cannot be read or written.
    """
    from experio_platform.config.models import ConfigEntry

    set_values = dict(set_values or {})
    keys = _scope(set_values, only, namespaces)
    restricted = bool(split_names(only) or split_names(namespaces))
    report = SeedReport(COMMAND, dry_run=dry_run)
    desired, errors = desired_values(keys, set_values=set_values, environ=environ)
    if errors:
        for name, origin, message in errors:
            report.add(name, "error", origin, detail=message)
        return report

    alias = router.db_for_write(ConfigEntry)
    with transaction.atomic(using=alias):
        if not dry_run:
            _lock(alias)
        qs = ConfigEntry.objects.using(alias)
        if not dry_run:
            qs = qs.select_for_update()
        rows = {row.key: row for row in qs}
        writes: list[tuple[ConfigKey, Any, str, Any]] = []
        for key in keys:
            want = desired[key.name]
            action = _plan(report, key, want, rows.get(key.name), force, override_admin)
            if action is not None:
                writes.append((key, want.value, want.source, action))
        stale = [] if restricted else sorted(set(rows) - set(get_registry()))
        for name in stale:
            row = rows[name]
            old = store.MASK if row.is_secret else str(row.value)
            if prune:
                report.add(name, "deleted", row.source, old, None, "no longer in the registry")
            else:
                report.add(name, "skipped", row.source, old, None, "unknown key; --prune deletes")
        if report.has_errors or dry_run:
            return report
        for key, value, source, existing in writes:
            store.write(
                key,
                value,
                source=source,
                actor=actor,
                seeded=True,
                existing=existing or None,
                using=alias,
            )
        if prune:
            for name in stale:
                store.delete_row(rows[name], actor=actor, using=alias)
        if writes or (prune and stale):
            store.bump_stamp(alias)
            transaction.on_commit(store.clear_cache, using=alias)
    return report


def _plan(
    report: SeedReport,
    key: ConfigKey,
    want: Desired,
    row: Any,
    force: bool,
    override_admin: bool,
) -> Any:
    """Add the report line of one key; return the row to overwrite (``False`` to create,
    None to leave alone)."""
    new = store.display(key, want.value)
    src = want.source
    if row is None:
        report.add(key.name, "created", src, None, new, _detail(want))
        return False
    try:
        current = store.decode_row(key, row.ciphertext, row.value, row.is_secret)
    except crypto.DecryptionError as exc:
        if src == "cli":  # an explicit --set replaces a secret stored under a lost key
            report.add(key.name, "updated", src, "(undecryptable)", new, _detail(want))
            return row
        report.add(key.name, "error", row.source, detail=exc.message)
        return None
    old = store.display(key, current)
    same = current == want.value and type(current) is type(want.value)
    if same and row.is_secret == key.secret:
        report.add(key.name, "unchanged", row.source, old, new)
        return None
    if same:  # the registry changed the key's secret flag: store it the new way
        report.add(key.name, "updated", src, old, new, "secret flag changed")
        return row
    operator_set = row.source in OPERATOR_SOURCES
    write_reason: str | None = None
    if src == "cli":
        write_reason = _detail(want)
    elif key.env_managed and src == "env":
        write_reason = f"{want.origin} differs"
    elif operator_set:
        if override_admin:
            write_reason = "--override-admin"
        elif src == "env" or force:
            report.add(
                key.name,
                "drift",
                row.source,
                old,
                new,
                f"set in {row.source}; kept "
                f"(--override-admin writes {_detail(want) or 'the default'})",
            )
            return None
    elif force:
        write_reason = "--force"
    elif src == "env":
        write_reason = f"{want.origin} differs"
    elif row.source in ("default", "settings"):
        write_reason = "code default changed" if src == "default" else "host override changed"
    if write_reason is None:
        detail = (
            f"seeded from {row.source}, now unset; kept (--force resets it)"
            if row.source == "env"
            else f"set in {row.source}"
        )
        report.add(key.name, "unchanged", row.source, old, old, detail)
        return None
    report.add(key.name, "updated", src, old, new, write_reason)
    return row


def _detail(want: Desired) -> str:
    return f"from {want.origin}" if want.source in ("env", "cli", "settings") else ""


def rotate_keys(*, dry_run: bool = False, actor: str = COMMAND) -> SeedReport:
    """Re-encrypt every secret row under the first ENCRYPTION_KEYS key; refresh fingerprints.

    A row already under the first key is reported unchanged. A row no configured key decrypts is
    an error and nothing is written.
    """
    from cryptography.fernet import Fernet, InvalidToken

    from experio_platform.config.models import ConfigChange, ConfigEntry

    report = SeedReport(COMMAND, dry_run=dry_run)
    first = Fernet(crypto.fernet_keys()[0])  # a passphrase entry derived, as encrypt() does
    registry = get_registry()
    alias = router.db_for_write(ConfigEntry)
    with transaction.atomic(using=alias):
        if not dry_run:
            _lock(alias)
        qs = ConfigEntry.objects.using(alias).filter(is_secret=True)
        rows = list(qs if dry_run else qs.select_for_update())
        todo = []
        for row in rows:
            if not row.ciphertext:
                report.add(row.key, "unchanged", row.source, detail="empty")
                continue
            try:
                first.decrypt(row.ciphertext.encode())
                report.add(row.key, "unchanged", row.source, detail="already under the first key")
                continue
            except InvalidToken:
                pass
            try:
                value = crypto.decrypt(row.ciphertext, key_name=row.key)
            except crypto.DecryptionError as exc:
                report.add(row.key, "error", row.source, detail=exc.message)
                continue
            report.add(row.key, "updated", row.source, detail="re-encrypted under the first key")
            todo.append((row, value))
        if report.has_errors or dry_run or not todo:
            return report
        for row, value in todo:
            row.ciphertext = crypto.rotate(row.ciphertext, key_name=row.key)
            # Fingerprints are keyed by the first key: the seeded value's fingerprint is known
            # again only when the row still holds it (not operator-set).
            if row.source not in OPERATOR_SOURCES:
                row.fingerprint = crypto.fingerprint(value)
            else:
                row.fingerprint = ""
            row.version += 1
            row.updated_by = actor
            row.save(using=alias)
            key = registry.get(row.key)
            ConfigChange.objects.using(alias).create(
                key=row.key,
                action="rotated",
                source=row.source,
                new_fingerprint=crypto.fingerprint(value),
                old_display=store.MASK if key is None else store.display(key, value),
                new_display=store.MASK if key is None else store.display(key, value),
                actor=actor,
            )
        store.bump_stamp(alias)
        transaction.on_commit(store.clear_cache, using=alias)
    return report
