"""Encryption at rest (MultiFernet) and keyed fingerprints for the settings store.

Keys come from ``EXPERIO_PLATFORM["ENCRYPTION_KEYS"]`` (the devsite reads
``EXPERIO_ENCRYPTION_KEYS``, comma-separated): the first key encrypts, every key decrypts, so a
new key is put first and ``seed_config --rotate-keys`` re-encrypts every row under it. With no
key configured, a key derived from ``SECRET_KEY`` is used as a development fallback; the system
check ``experio_platform.W030`` (``E030`` when DEBUG is off) says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from experio_platform.exceptions import ConfigurationError, ExperioPlatformError

_DERIVE_LABEL = b"experio-platform/config/fallback-key/v1"
_FINGERPRINT_LABEL = b"experio-platform/config/fingerprint/v1"


class DecryptionError(ExperioPlatformError):
    """A stored secret cannot be decrypted with the configured keys."""


def configured_keys() -> list[str]:
    """Return ENCRYPTION_KEYS as a list (a comma-separated string is accepted too)."""
    from experio_platform.conf import platform_settings

    raw = platform_settings.ENCRYPTION_KEYS or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [str(k).strip() for k in raw if str(k).strip()]


def fallback_key() -> str:
    """Return the development key derived from SECRET_KEY (never used when keys are set)."""
    from django.conf import settings

    digest = hmac.new(_DERIVE_LABEL, str(settings.SECRET_KEY).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def validate_keys(keys: list[str]) -> list[str]:
    """Return a message per malformed key (by position, never the key itself)."""
    problems = []
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                f"ENCRYPTION_KEYS entry {i} is not a Fernet key (32 url-safe base64-encoded bytes)"
            )
    return problems


def _keys() -> list[str]:
    keys = configured_keys() or [fallback_key()]
    problems = validate_keys(keys)
    if problems:
        raise ConfigurationError(
            "; ".join(problems) + ".",
            hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'",
        )
    return keys


def get_fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in _keys()])


def encrypt(value: Any) -> str:
    """Return the ciphertext of the JSON encoding of ``value`` under the first key."""
    return get_fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt(token: str, *, key_name: str) -> Any:
    """Return the value encrypted in ``token``; raise DecryptionError naming ``key_name``."""
    try:
        return json.loads(get_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise DecryptionError(
            f"The stored secret of settings-store key {key_name} cannot be decrypted with "
            "EXPERIO_PLATFORM['ENCRYPTION_KEYS'] (devsite: EXPERIO_ENCRYPTION_KEYS).",
            hint="Add the key it was encrypted with back to the list (new key first), then run "
            "`manage.py seed_config --rotate-keys`; or set the value again "
            f"(`manage.py seed_config --set {key_name}=...`).",
        ) from None


def rotate(token: str, *, key_name: str) -> str:
    """Return ``token`` re-encrypted under the first key."""
    try:
        return get_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        decrypt(token, key_name=key_name)  # raises the explanatory error
        raise


def fingerprint(value: Any) -> str:
    """Return a keyed HMAC-SHA256 fingerprint of ``value`` (16 hex digits).

    Keyed with a key derived from the first encryption key, so it reveals nothing about a
    secret to anyone without that key, yet equal values give equal fingerprints.
    """
    secret = hmac.new(_FINGERPRINT_LABEL, _keys()[0].encode(), hashlib.sha256).digest()
    data = json.dumps(value, sort_keys=True).encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:16]
