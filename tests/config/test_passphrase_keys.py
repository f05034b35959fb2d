"""Passphrase entries in ENCRYPTION_KEYS (``passphrase:<text>``): the KDF's known vector in a fresh
process, mixed lists with Fernet keys, rotation from a Fernet key to a passphrase, and the system
checks E031 (empty) / W032 (short) whose messages never carry the value."""

from __future__ import annotations

import subprocess
import sys
import time
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError

from experio_platform import config
from experio_platform.config import crypto
from experio_platform.config.models import ConfigEntry
from experio_platform.exceptions import ConfigurationError
from tests.config.conftest import CANARY, ROOT

# PBKDF2-HMAC-SHA256, 600 000 iterations, salt b"experio-platform/config/passphrase-key/v1",
# computed once with cryptography's PBKDF2HMAC (an independent implementation). If this changes,
# every deployment's stored secrets become unreadable: never update the vector, add a new prefix.
PASSPHRASE = "correct horse battery staple"
VECTOR = "D_U0NLzaJo78hjGl-MEqaU5-FNAOltq-4AT21oYbWa8="


def _keys(settings, *entries: str) -> None:  # type: ignore[no-untyped-def]
    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": list(entries), "CONFIG_OVERRIDES": {}}
    config.clear_cache()


def _messages(settings, *entries: str) -> list[checks.CheckMessage]:  # type: ignore[no-untyped-def]
    _keys(settings, *entries)
    return [m for m in checks.run_checks() if (m.id or "").startswith("experio_platform.")]


def _seed(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("seed_config", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


# ---- the KDF ----------------------------------------------------------------------------------


def test_derive_key__known_vector_in_a_fresh_process() -> None:
    """The same passphrase gives the same key in every process (every container must agree)."""
    code = (
        f"from experio_platform.config.crypto import derive_key; print(derive_key({PASSPHRASE!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == VECTOR
    assert crypto.derive_key(PASSPHRASE) == VECTOR
    Fernet(VECTOR)  # a valid Fernet key


def test_derive_key__cached_per_process_and_passphrase() -> None:
    passphrase = "cache-probe-" + str(time.monotonic_ns())
    before = crypto.derive_key.cache_info()
    first = crypto.derive_key(passphrase)
    started = time.perf_counter()
    assert crypto.derive_key(passphrase) == first
    assert time.perf_counter() - started < 0.01  # the KDF (~0.3 s) did not run again
    after = crypto.derive_key.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert crypto.derive_key(passphrase + "x") != first
    with pytest.raises(ValueError):
        crypto.derive_key("")


# ---- mixed lists and rotation ------------------------------------------------------------------


def test_mixed_list__decrypts_old_ciphertext_and_encrypts_under_the_first(settings) -> None:
    old = Fernet.generate_key().decode()
    _keys(settings, old)
    token = crypto.encrypt(CANARY)
    _keys(settings, f"passphrase:{PASSPHRASE}", old)
    assert crypto.fernet_keys() == [VECTOR, old]
    assert crypto.decrypt(token, key_name="X") == CANARY
    fresh = crypto.encrypt("new value")
    assert Fernet(VECTOR).decrypt(fresh.encode()) == b'"new value"'
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(fresh.encode())
    # The fingerprint is keyed by the derived key, so the passphrase and its key agree.
    fingerprint = crypto.fingerprint(CANARY)
    _keys(settings, VECTOR)
    assert crypto.fingerprint(CANARY) == fingerprint
    # The other order: a passphrase retired behind a new Fernet key still decrypts.
    _keys(settings, Fernet.generate_key().decode(), f"passphrase:{PASSPHRASE}")
    assert crypto.decrypt(fresh, key_name="X") == "new value"


def test_plain_fernet_keys__never_run_the_kdf(settings, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the KDF ran for a plain Fernet key")

    monkeypatch.setattr(crypto.hashlib, "pbkdf2_hmac", refuse)
    key = Fernet.generate_key().decode()
    _keys(settings, key)
    assert crypto.decrypt(crypto.encrypt(CANARY), key_name="X") == CANARY
    assert crypto.fernet_keys() == [key]


@pytest.mark.django_db
def test_rotate_keys__from_a_fernet_key_to_a_passphrase(settings, monkeypatch) -> None:
    """The documented move: `passphrase:new,<old fernet key>`, `seed_config --rotate-keys`, then
    the passphrase alone reads every secret."""
    old = Fernet.generate_key().decode()
    _keys(settings, old)
    monkeypatch.setenv("GOOGLE_API_KEY", CANARY)
    assert _seed()[0] == 0
    before = ConfigEntry.objects.get(key="GOOGLE_API_KEY").ciphertext
    _keys(settings, f"passphrase:{PASSPHRASE}", old)
    assert _seed("--rotate-keys", "--check")[0] == 3
    code, out, err = _seed("--rotate-keys")
    assert code == 0, out + err
    assert "re-encrypted under the first key" in out and CANARY not in out + err
    after = ConfigEntry.objects.get(key="GOOGLE_API_KEY").ciphertext
    assert after != before and Fernet(VECTOR).decrypt(after.encode()) == f'"{CANARY}"'.encode()
    _keys(settings, f"passphrase:{PASSPHRASE}")  # the old key is retired
    assert config.get("GOOGLE_API_KEY") == CANARY
    assert _seed("--rotate-keys")[0] == 0
    assert "already under the first key" in _seed("--rotate-keys", "--dry-run")[1]
    # A no-op seed under the passphrase: the fingerprint was refreshed, nothing to update.
    code, out, _err = _seed()
    assert code == 0 and "0 updated" in out, out
    # Another passphrase reads nothing: the clear error of a wrong key, naming the setting key.
    _keys(settings, "passphrase:a-different-long-passphrase")
    code, out, _err = _seed()
    assert code == 1 and "cannot be decrypted" in out


# ---- system checks -----------------------------------------------------------------------------


def test_checks__empty_passphrase_is_E031_by_position(settings) -> None:
    good = Fernet.generate_key().decode()
    for empty in ("passphrase:", "  passphrase:  "):
        found = _messages(settings, good, empty)
        errors = [m for m in found if m.id == "experio_platform.E031"]
        assert len(errors) == 1, found
        assert "entry 2 is an empty passphrase" in errors[0].msg
        assert "passphrase:<text>" in errors[0].hint
    with pytest.raises(ConfigurationError, match="entry 2 is an empty passphrase"):
        crypto.fernet_keys()
    code, _out, err = _seed()
    assert code == 2 and "E031" in err


def test_checks__short_passphrase_is_W032_with_the_fix(settings) -> None:
    limit = crypto.MIN_PASSPHRASE_LENGTH
    assert limit == 16  # documented in docs/config.md and .env.example
    found = _messages(settings, "passphrase:" + "a" * (limit - 1), Fernet.generate_key().decode())
    warnings = [m for m in found if m.id == "experio_platform.W032"]
    assert len(warnings) == 1 and not [m for m in found if m.is_serious()], found
    assert "entry 1 is a passphrase shorter than 16 characters" in warnings[0].msg
    assert "--rotate-keys" in warnings[0].hint and "token_urlsafe" in warnings[0].hint
    call_command("check", "--tag", "experio_platform")  # a warning: DEBUG off still starts
    ids = {m.id for m in _messages(settings, "passphrase:" + "a" * limit)}
    assert not ids & {"experio_platform.W032", "experio_platform.E031", "experio_platform.E030"}


@pytest.mark.django_db
def test_checks__seed_config_warns_on_a_short_passphrase_and_goes_ahead(settings) -> None:
    _keys(settings, "passphrase:short-7f3a9")
    code, out, err = _seed()
    assert code == 0, out + err
    assert "warning: (experio_platform.W032)" in err


def test_checks__comma_in_a_passphrase_is_E031_naming_commas(settings) -> None:
    """The list is comma-separated: a passphrase holding a comma splits into a second entry."""
    found = _messages(settings, "passphrase:first-half-of-it", "second-half-of-it")
    errors = [m for m in found if m.id == "experio_platform.E031"]
    assert len(errors) == 1 and "entry 2 is neither a Fernet key" in errors[0].msg
    assert "no commas" in errors[0].hint


@pytest.mark.django_db
def test_messages__never_carry_the_value(settings, monkeypatch) -> None:
    """A canary in a short passphrase, a long one and a malformed key: absent from every check
    message and hint, the ConfigurationError, and seed_config's output."""
    short = "cnry-7f3a9"  # < 16 characters: W032
    bad_key = CANARY + "-not-a-fernet-key"  # E031
    seen: list[str] = []
    for entries in (
        (f"passphrase:{short}",),
        (f"passphrase:{CANARY}",),
        (f"passphrase:{CANARY}", bad_key),
        ("passphrase:", f"passphrase:{CANARY}"),
    ):
        for message in _messages(settings, *entries):
            seen += [message.msg, message.hint or ""]
        try:
            crypto.fernet_keys()
        except ConfigurationError as exc:
            seen += [str(exc), exc.message, exc.hint or ""]
        monkeypatch.setenv("GOOGLE_API_KEY", "some-api-key")
        seen += _seed("--dry-run")[1:]
    text = "\n".join(seen)
    assert "W032" in text or "shorter than" in text
    assert "neither a Fernet key" in text and "empty passphrase" in text
    assert short not in text and CANARY not in text


def test_checks__unsubstituted_secret_reference_is_E031(settings) -> None:
    """`passphrase:$secret.encryptionKey` reaching a container as text (the platform did not
    substitute it) would encrypt every deployment under the same public passphrase."""
    found = _messages(settings, "passphrase:$secret.encryptionKey")
    errors = [m for m in found if m.id == "experio_platform.E031"]
    assert len(errors) == 1 and "unsubstituted '$secret.NAME'" in errors[0].msg
    # Local Compose substitutes it (`secret` from .env): an ordinary passphrase.
    assert not [
        m
        for m in _messages(settings, "passphrase:experio-local.encryptionKey")
        if m.id.endswith(("E031", "W032"))
    ]
