"""Encryption at rest (MultiFernet) and keyed fingerprints for the settings store.

Keys come from ``EXPERIO_PLATFORM["ENCRYPTION_KEYS"]`` (the devsite reads
``EXPERIO_ENCRYPTION_KEYS``, comma-separated): the first key encrypts, every key decrypts, so a
new key is put first and ``seed_config --rotate-keys`` re-encrypts every row under it. With no
key configured, a key derived from ``SECRET_KEY`` is used as a development fallback; the system
check ``experio_platform.W030`` (``E030`` when DEBUG is off) says so.

An entry is either a Fernet key (44 characters of url-safe base64) or ``passphrase:<text>``,
turned into a Fernet key by PBKDF2-HMAC-SHA256 (:func:`derive_key`). Passphrases exist for
deployments whose secret store cannot hand over a Fernet key as is: on Omnistrate the compose
file says ``passphrase:$secret.encryptionKey``, which local Compose reads as the variable
``secret`` followed by ``.encryptionKey`` (docs/deploy.md), still a usable passphrase.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from experio_platform.exceptions import ConfigurationError, ExperioPlatformError

_DERIVE_LABEL = b"experio-platform/config/fallback-key/v1"
_FINGERPRINT_LABEL = b"experio-platform/config/fingerprint/v1"

PASSPHRASE_PREFIX = "passphrase:"  # noqa: S105 (the entry syntax, not a secret)
# Shorter passphrases work but are system-check warning W032: with a fixed salt (below) the KDF
# is all that slows a guesser down, so the passphrase itself must carry the entropy.
MIN_PASSPHRASE_LENGTH = 16
# The KDF of passphrase entries. Never change these three: every stored secret was encrypted
# under the key they produce. A stronger KDF would be a new prefix (and a rotation), not an edit.
# 600 000 iterations is OWASP's figure for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet,
# 2023); it costs ~0.3 s once per process and passphrase (docs/config.md has the measurement).
KDF_ITERATIONS = 600_000
# Fixed, not random: every container must derive the same key from the same passphrase with no
# other shared state. Versioned so a future KDF cannot collide with this one.
_KDF_SALT = b"experio-platform/config/passphrase-key/v1"


class DecryptionError(ExperioPlatformError):
    """A stored secret cannot be decrypted with the configured keys."""


def configured_keys() -> list[str]:
    """Return ENCRYPTION_KEYS as a list (a comma-separated string is accepted too)."""
    from experio_platform.conf import platform_settings

    raw = platform_settings.ENCRYPTION_KEYS or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return [str(k).strip() for k in raw if str(k).strip()]


def is_passphrase(entry: str) -> bool:
    """Return whether an ENCRYPTION_KEYS entry is ``passphrase:<text>`` (not a Fernet key)."""
    return entry.startswith(PASSPHRASE_PREFIX)


@lru_cache(maxsize=16)
def derive_key(passphrase: str) -> str:
    """Return the Fernet key of ``passphrase`` (PBKDF2-HMAC-SHA256, KDF_ITERATIONS, fixed salt).

    Cached per process and passphrase: the KDF is deliberately slow (~0.3 s) and runs once.

    Raises:
        ValueError: for an empty passphrase (never derived: it would be a guessable key).
    """
    if not passphrase:
        raise ValueError("empty passphrase")
    raw = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), _KDF_SALT, KDF_ITERATIONS, dklen=32)
    return base64.urlsafe_b64encode(raw).decode()


def fallback_key() -> str:
    """Return the development key derived from SECRET_KEY (never used when keys are set)."""
    from django.conf import settings

    digest = hmac.new(_DERIVE_LABEL, str(settings.SECRET_KEY).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def validate_keys(keys: list[str]) -> list[str]:
    """Return a message per malformed entry (by position, never the entry itself).

    A passphrase entry is only checked for emptiness here: deriving it costs the KDF, and any
    non-empty text derives a valid key.
    """
    problems = []
    for i, key in enumerate(keys, 1):
        if is_passphrase(key):
            text = key[len(PASSPHRASE_PREFIX) :]
            if not text:
                problems.append(
                    f"ENCRYPTION_KEYS entry {i} is an empty passphrase ('{PASSPHRASE_PREFIX}' "
                    "with nothing after it)"
                )
            elif "$secret." in text:
                # The release writes passphrase:$secret.encryptionKey; had the platform not
                # substituted it, every deployment would encrypt under the same public text.
                problems.append(
                    f"ENCRYPTION_KEYS entry {i} is a passphrase holding an unsubstituted "
                    "'$secret.NAME' reference (the platform did not replace it with the secret)"
                )
            continue
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                f"ENCRYPTION_KEYS entry {i} is neither a Fernet key (32 url-safe base64-encoded "
                f"bytes) nor '{PASSPHRASE_PREFIX}<text>'"
            )
    return problems


def short_passphrases(keys: list[str]) -> list[int]:
    """Return the 1-based positions of passphrase entries shorter than MIN_PASSPHRASE_LENGTH."""
    return [
        i
        for i, key in enumerate(keys, 1)
        if is_passphrase(key) and 0 < len(key) - len(PASSPHRASE_PREFIX) < MIN_PASSPHRASE_LENGTH
    ]


def fernet_keys() -> list[str]:
    """Return the Fernet keys in use, first one encrypting: the configured entries with each
    passphrase derived, or the SECRET_KEY fallback when none is configured.

    Raises:
        ConfigurationError: an entry is malformed (E031 says the same at startup).
    """
    keys = configured_keys() or [fallback_key()]
    problems = validate_keys(keys)
    if problems:
        raise ConfigurationError(
            "; ".join(problems) + ".",
            hint="Generate a key with: python -c 'from cryptography.fernet import Fernet; "
            f"print(Fernet.generate_key().decode())', or use '{PASSPHRASE_PREFIX}<text>' with "
            f"at least {MIN_PASSPHRASE_LENGTH} characters (no commas: they separate entries).",
        )
    return [derive_key(k[len(PASSPHRASE_PREFIX) :]) if is_passphrase(k) else k for k in keys]


def get_fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in fernet_keys()])


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

    Keyed with a key derived from the first encryption key (for a passphrase entry: its derived
    Fernet key), so it reveals nothing about a secret to anyone without that key, yet equal
    values give equal fingerprints.
    """
    secret = hmac.new(_FINGERPRINT_LABEL, fernet_keys()[0].encode(), hashlib.sha256).digest()
    data = json.dumps(value, sort_keys=True).encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:16]
