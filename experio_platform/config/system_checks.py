"""System checks of the settings store (ids E030-E049 / W030-W049); static, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core import checks

from experio_platform.exceptions import ConfigurationError

_GENERATE = (
    "Generate a key with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())' and set EXPERIO_PLATFORM['ENCRYPTION_KEYS'] "
    "(devsite: EXPERIO_ENCRYPTION_KEYS, comma-separated, new key first); or use "
    "'passphrase:<text>' (no commas in the text: they separate entries)."
)
_LONGER = (
    "Use a random passphrase of at least {min} characters, e.g. python -c 'import secrets; "
    "print(secrets.token_urlsafe(32))'; put it first as 'passphrase:<new>', keep the old entry "
    "after a comma, run `manage.py seed_config --rotate-keys`, then drop the old entry."
)


def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W030/E030: no ENCRYPTION_KEYS, so the SECRET_KEY-derived fallback is in use: a warning
    with DEBUG on, an error with DEBUG off; E031: a malformed entry (not a Fernet key, or an
    empty passphrase); W032: a passphrase shorter than crypto.MIN_PASSPHRASE_LENGTH."""
    from django.conf import settings

    from experio_platform.config import crypto

    try:
        keys = crypto.configured_keys()
    except ConfigurationError:  # EXPERIO_PLATFORM itself is malformed: E001 says so
        return []
    if not keys:
        text = (
            "EXPERIO_PLATFORM['ENCRYPTION_KEYS'] is empty: settings-store secrets are encrypted "
            "with a key derived from SECRET_KEY (development fallback); rotating SECRET_KEY "
            "would make them unreadable."
        )
        # Issue 3: a warning for development (DEBUG on, e.g. `make dev`), an error otherwise,
        # whatever SECRET_KEY looks like: a production site must carry its own key list.
        if settings.DEBUG:
            return [checks.Warning(text, hint=_GENERATE, id="experio_platform.W030")]
        return [checks.Error(text, hint=_GENERATE, id="experio_platform.E030")]
    found: list[checks.CheckMessage] = [
        checks.Error(problem + ".", hint=_GENERATE, id="experio_platform.E031")
        for problem in crypto.validate_keys(keys)
    ]
    # By position only: the message must never carry the passphrase (nor its length).
    found += [
        checks.Warning(
            f"EXPERIO_PLATFORM['ENCRYPTION_KEYS'] entry {i} is a passphrase shorter than "
            f"{crypto.MIN_PASSPHRASE_LENGTH} characters: the settings-store secrets are only as "
            "hard to decrypt as it is to guess.",
            hint=_LONGER.format(min=crypto.MIN_PASSPHRASE_LENGTH),
            id="experio_platform.W032",
        )
        for i in crypto.short_passphrases(keys)
    ]
    return found


def check_registry(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E032: CONFIG_EXTRA_KEYS broken; E033: CONFIG_OVERRIDES not a dict or an invalid value;
    W031: CONFIG_OVERRIDES names unknown keys; E034: CONFIG_CACHE_TTL not a number >= 0;
    E035: a key's declared default is not valid for it."""
    from experio_platform.conf import platform_settings
    from experio_platform.config.registry import ConfigValueError, get_registry

    found: list[checks.CheckMessage] = []
    try:
        ttl = platform_settings.CONFIG_CACHE_TTL
    except ConfigurationError:  # EXPERIO_PLATFORM itself is malformed: E001 says so
        return []
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
        found.append(
            checks.Error(
                f"EXPERIO_PLATFORM['CONFIG_CACHE_TTL'] must be a number of seconds >= 0, "
                f"not {ttl!r}.",
                hint="Use e.g. 5 (0 re-checks the version stamp on every read).",
                id="experio_platform.E034",
            )
        )
    try:
        registry = get_registry()
    except ConfigurationError as exc:
        return [*found, checks.Error(exc.message, hint=exc.hint, id="experio_platform.E032")]
    for key in registry.values():
        try:
            key.parse(key.default, origin="its default")
        except ConfigValueError as exc:
            found.append(
                checks.Error(
                    exc.message,
                    hint="Fix the ConfigKey declaration's default.",
                    id="experio_platform.E035",
                )
            )
    overrides = platform_settings.CONFIG_OVERRIDES
    if overrides is None:
        return found
    if not isinstance(overrides, dict):
        return [
            *found,
            checks.Error(
                "EXPERIO_PLATFORM['CONFIG_OVERRIDES'] must be a dict {KEY: value}.",
                hint="Map settings-store keys to their fallback values.",
                id="experio_platform.E033",
            ),
        ]
    unknown = sorted(set(overrides) - set(registry))
    if unknown:
        found.append(
            checks.Warning(
                f"EXPERIO_PLATFORM['CONFIG_OVERRIDES'] names unknown key(s): {', '.join(unknown)}.",
                hint="Fix the spelling or declare them in CONFIG_EXTRA_KEYS.",
                id="experio_platform.W031",
            )
        )
    for name, raw in overrides.items():
        if name in registry and raw not in (None, ""):
            try:
                registry[name].parse(raw, origin=f"CONFIG_OVERRIDES[{name!r}]")
            except ConfigValueError as exc:
                found.append(checks.Error(exc.message, hint=exc.hint, id="experio_platform.E033"))
    return found


def enforce_encryption_keys(warn: Callable[[str], None]) -> None:
    """Apply W030/E030/E031/W032 in the commands that write secrets (seed_config, initdb), which run
    no system checks of their own: pass warnings to ``warn``, raise ConfigurationError on an
    error, so a production run never encrypts under the SECRET_KEY fallback."""
    for message in check_encryption_keys():
        text = f"({message.id}) {message.msg} HINT: {message.hint}"
        if message.is_serious():
            raise ConfigurationError(text)
        warn(f"warning: {text}")


CHECKS = [check_encryption_keys, check_registry]
