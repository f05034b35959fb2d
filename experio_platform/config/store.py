"""Reading and writing the settings store, with a short per-process cache.

Read path (``get``): a process keeps a snapshot of all rows. Outside a transaction the snapshot
is trusted for ``CONFIG_CACHE_TTL`` seconds (default 5); after that one query reads the version
stamp (``ConfigState``) and the rows are reloaded only when it changed. So a change made in one
process is seen by every other process within ``CONFIG_CACHE_TTL`` seconds (plus the time of
one query). Inside a transaction (``atomic``, ``ATOMIC_REQUESTS``, tests) the stamp is checked on
every read, so a transaction sees its own writes and a rolled-back write never lingers. Reads
never write; a database error propagates.

Write path (``set``, seed_config, the admin): in one transaction, write the row, append a
``ConfigChange`` and bump the stamp; the writing process drops its snapshot at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F

from experio_platform.config import crypto
from experio_platform.config.registry import ConfigKey, get_key

logger = logging.getLogger(__name__)

MASK = "********"
_UNREADABLE = object()


@dataclass
class _Row:
    key: str
    value: Any
    ciphertext: str
    is_secret: bool
    source: str


@dataclass
class _Snapshot:
    stamp: tuple[int, str]
    rows: dict[str, _Row]
    checked_at: float
    trusted: bool  # loaded outside a transaction: may be served from memory until the TTL
    decoded: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_snapshots: dict[tuple[str, str], _Snapshot] = {}


def _alias() -> str:
    from experio_platform.config.models import ConfigEntry

    return router.db_for_read(ConfigEntry)


def _ident(alias: str) -> tuple[str, str]:
    # Keyed by database name too: the test runner swaps NAME for test_<NAME> on the same alias.
    return alias, str(connections[alias].settings_dict.get("NAME"))


def clear_cache(*args: Any, **kwargs: Any) -> None:
    """Drop this process's snapshot (the next read goes to the database)."""
    with _lock:
        _snapshots.clear()


def _connect_signals() -> None:
    # ``flush`` (TransactionTestCase teardown) and ``migrate`` emit post_migrate: rows may have
    # vanished without a stamp bump, so drop the snapshot. A settings change (e.g. new
    # ENCRYPTION_KEYS) invalidates decrypted values too.
    from django.db.models.signals import post_migrate

    from experio_platform.conf import _reload_hooks, on_reload

    post_migrate.connect(clear_cache, dispatch_uid="experio_platform.config.store.clear_cache")
    if clear_cache not in _reload_hooks:
        on_reload(clear_cache)


_connect_signals()


def _read_stamp(alias: str) -> tuple[int, str]:
    from experio_platform.config.models import ConfigState

    row = ConfigState.objects.using(alias).filter(pk=1).values_list("version", "epoch").first()
    return (row[0], row[1]) if row else (0, "")


def _load(alias: str) -> dict[str, _Row]:
    from experio_platform.config.models import ConfigEntry

    fields = ("key", "value", "ciphertext", "is_secret", "source")
    return {r[0]: _Row(*r) for r in ConfigEntry.objects.using(alias).values_list(*fields)}


def _snapshot() -> _Snapshot:
    from experio_platform.conf import platform_settings

    alias = _alias()
    ident = _ident(alias)
    in_atomic = connections[alias].in_atomic_block
    now = time.monotonic()
    ttl = float(platform_settings.CONFIG_CACHE_TTL or 0)
    snap = _snapshots.get(ident)
    if snap is not None and snap.trusted and not in_atomic and now - snap.checked_at < ttl:
        return snap
    stamp = _read_stamp(alias)
    if snap is not None and snap.stamp == stamp and (snap.trusted or in_atomic):
        snap.checked_at = now
        return snap
    # Stamp first, rows second: the rows are at least as new as the stamp, and a write landing
    # in between changes the stamp, so the next check reloads.
    snap = _Snapshot(stamp, _load(alias), now, trusted=not in_atomic)
    with _lock:
        _snapshots[ident] = snap
    return snap


def decode_row(key: ConfigKey, ciphertext: str, value: Any, is_secret: bool) -> Any:
    """Return the typed value of a stored row (decrypting a secret)."""
    if is_secret:
        return crypto.decrypt(ciphertext, key_name=key.name) if ciphertext else None
    return value


def get(name: str) -> Any:
    """Return the current value of settings-store key ``name``, typed (bool, int, str, ...).

    Resolution: the store's row; else the host override
    ``EXPERIO_PLATFORM["CONFIG_OVERRIDES"][name]`` (typed by the registry); else the registry
    default.

    Raises:
        UnknownKeyError: ``name`` is not in the registry.
        DecryptionError: a secret row cannot be decrypted with the configured keys.
        ConfigValueError: the host override is not valid for the key.
        django.db.DatabaseError: the store cannot be read (never hidden behind a default).
    """
    from experio_platform.conf import platform_settings

    key = get_key(name)
    snap = _snapshot()
    row = snap.rows.get(name)
    if row is not None:
        if name not in snap.decoded:
            snap.decoded[name] = decode_row(key, row.ciphertext, row.value, row.is_secret)
        return snap.decoded[name]
    overrides = platform_settings.CONFIG_OVERRIDES or {}
    raw = overrides.get(name)
    if raw not in (None, ""):
        return key.parse(raw, origin=f"CONFIG_OVERRIDES[{name!r}]")
    return key.default


def get_many(names: list[str] | None = None) -> dict[str, Any]:
    """Return ``{name: get(name)}`` for ``names`` (default: every registry key)."""
    from experio_platform.config.registry import get_registry

    return {n: get(n) for n in (names if names is not None else list(get_registry()))}


def display(key: ConfigKey, value: Any) -> str:
    """Return ``value`` as shown in reports and the admin: secrets masked, None as ``-``."""
    if key.secret:
        return "(empty)" if value in (None, "") else MASK
    if value is None:
        return "-"
    return str(value)


def bump_stamp(alias: str) -> None:
    """Advance the version stamp (inside the caller's transaction)."""
    from experio_platform.config.models import ConfigState

    epoch = uuid.uuid4().hex
    qs = ConfigState.objects.using(alias).filter(pk=1)
    if qs.update(version=F("version") + 1, epoch=epoch):
        return
    try:
        with transaction.atomic(using=alias):
            ConfigState.objects.using(alias).create(pk=1, version=1, epoch=epoch)
    except IntegrityError:  # created concurrently: the row exists now
        qs.update(version=F("version") + 1, epoch=epoch)


def write(
    key: ConfigKey,
    value: Any,
    *,
    source: str,
    actor: str = "",
    seeded: bool = False,
    existing: Any = None,
    using: str | None = None,
) -> None:
    """Write one row and its change-log entry (no stamp bump: the caller bumps once).

    ``existing`` is the current ``ConfigEntry`` (or None when there is none). ``seeded`` marks a
    write by seed_config/initdb, whose fingerprint is kept as "the last seeded value".
    """
    from experio_platform.config.models import ConfigChange, ConfigEntry

    alias = using or _alias()
    fp = crypto.fingerprint(value)
    if existing is None:
        entry = ConfigEntry(key=key.name, version=1)
        old_fp, old_display, action = "", "", "created"
    else:
        entry = existing
        action = "updated"
        try:
            old_value = decode_row(key, entry.ciphertext, entry.value, entry.is_secret)
            old_fp, old_display = crypto.fingerprint(old_value), display(key, old_value)
        except crypto.DecryptionError:  # overwriting a secret stored under a lost key
            old_fp, old_display = "", "(undecryptable)"
        entry.version += 1
    entry.is_secret = key.secret
    if key.secret:
        entry.value = None
        entry.ciphertext = "" if value is None else crypto.encrypt(value)
    else:
        entry.value = value
        entry.ciphertext = ""
    entry.source = source
    entry.updated_by = actor[:150]
    if seeded or existing is None:
        entry.fingerprint = fp
    entry.save(using=alias)
    # Audit in the log too: key, action, who, fingerprints; never a value of a secret. Seeding
    # prints its own report, so its writes log at DEBUG; operator writes at INFO.
    logger.log(
        logging.DEBUG if seeded else logging.INFO,
        "settings store: %s %s by %s (source %s, fingerprint %s -> %s)",
        key.name,
        action,
        actor or "-",
        source,
        old_fp or "-",
        fp,
    )
    ConfigChange.objects.using(alias).create(
        key=key.name,
        action=action,
        source=source,
        old_fingerprint=old_fp,
        new_fingerprint=fp,
        old_display=old_display,
        new_display=display(key, value),
        actor=actor[:150],
    )


def set(name: str, value: Any, *, source: str = "cli", actor: str = "") -> bool:
    """Write settings-store key ``name`` (typed value or a string to parse); return True if it
    changed. Validates like seed_config, logs the change, and bumps the version stamp. Meant for
    tests, scripts and host code; operators use the admin or ``seed_config --set``.

    Raises:
        UnknownKeyError, ConfigValueError: bad key or value (nothing written).
    """
    from experio_platform.config.models import ConfigEntry

    key = get_key(name)
    typed = key.parse(value, origin=source)
    alias = _alias()
    with transaction.atomic(using=alias):
        existing = ConfigEntry.objects.using(alias).select_for_update().filter(key=name).first()
        if existing is not None:
            try:
                current = decode_row(key, existing.ciphertext, existing.value, existing.is_secret)
            except crypto.DecryptionError:
                current = _UNREADABLE
            if current == typed and type(current) is type(typed) and existing.source == source:
                return False
        write(key, typed, source=source, actor=actor, existing=existing, using=alias)
        bump_stamp(alias)
    clear_cache()
    return True


def delete_row(row: Any, *, actor: str = "", source: str = "cli", using: str | None = None) -> None:
    """Delete one ``ConfigEntry`` and log it (no stamp bump: the caller bumps once)."""
    from experio_platform.config.models import ConfigChange

    alias = using or _alias()
    ConfigChange.objects.using(alias).create(
        key=row.key,
        action="deleted",
        source=source,
        old_fingerprint=row.fingerprint,
        old_display=MASK if row.is_secret else str(row.value),
        actor=actor[:150],
    )
    row.delete(using=alias)


def delete(name: str, *, actor: str = "", source: str = "cli") -> bool:
    """Delete the row of ``name`` (it falls back to override/default); True if one existed."""
    from experio_platform.config.models import ConfigEntry

    alias = _alias()
    with transaction.atomic(using=alias):
        existing = ConfigEntry.objects.using(alias).select_for_update().filter(key=name).first()
        if existing is None:
            return False
        delete_row(existing, actor=actor, source=source, using=alias)
        bump_stamp(alias)
    clear_cache()
    return True
