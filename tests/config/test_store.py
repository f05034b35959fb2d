"""The read/write API of the settings store, against the real PostgreSQL of the test services."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experio_platform import config
from experio_platform.config import store
from experio_platform.config.crypto import DecryptionError
from experio_platform.config.models import ConfigChange, ConfigEntry

pytestmark = pytest.mark.django_db


def test_get__default_then_override_then_row(settings) -> None:
    settings.EXPERIO_PLATFORM = {"CONFIG_OVERRIDES": {}}
    assert config.get("GRAPH_PROVIDER") == "neo4j"
    settings.EXPERIO_PLATFORM = {"CONFIG_OVERRIDES": {"GRAPH_PROVIDER": "falkordb"}}
    assert config.get("GRAPH_PROVIDER") == "falkordb"
    assert config.set("GRAPH_PROVIDER", "neo4j") is True
    # The row wins over the host override: the store is the source of truth.
    assert config.get("GRAPH_PROVIDER") == "neo4j"


def test_get__override_is_typed(settings) -> None:
    settings.EXPERIO_PLATFORM = {"CONFIG_OVERRIDES": {"USE_AZURE_OPENAI": "true"}}
    assert config.get("USE_AZURE_OPENAI") is True
    assert config.get("MAX_UPLOAD_MB") == 50


def test_set__typed_values_roundtrip() -> None:
    config.set("USE_GOOGLE_GENAI", "yes")
    config.set("MAX_UPLOAD_MB", "75")
    config.set("LLM_REQUEST_TIMEOUT", 2.5)
    assert config.get("USE_GOOGLE_GENAI") is True
    assert config.get("MAX_UPLOAD_MB") == 75
    assert config.get("LLM_REQUEST_TIMEOUT") == 2.5


def test_set__invalid_value_writes_nothing() -> None:
    with pytest.raises(config.ConfigValueError, match=r"NEO4J_URI.*neo4j://"):
        config.set("NEO4J_URI", "http://graph:7474")
    with pytest.raises(config.ConfigValueError, match=r"USE_AZURE_OPENAI.*boolean"):
        config.set("USE_AZURE_OPENAI", "maybe")
    with pytest.raises(config.ConfigValueError, match=r"GRAPH_PROVIDER.*allowed"):
        config.set("GRAPH_PROVIDER", "arangodb")
    assert not ConfigEntry.objects.exists()


def test_parse__int_rejects_a_fraction() -> None:
    with pytest.raises(config.ConfigValueError, match="expected int"):
        config.set("MAX_UPLOAD_MB", 2.5)
    assert config.set("MAX_UPLOAD_MB", 3.0) and config.get("MAX_UPLOAD_MB") == 3


def test_get__unknown_key_raises() -> None:
    with pytest.raises(config.UnknownKeyError, match="NOPE"):
        config.get("NOPE")


def test_set__secret_encrypted_and_never_logged(caplog) -> None:
    canary = "canary-s3cret-7f3a"
    caplog.set_level(logging.DEBUG, logger="experio_platform")
    config.set("NEO4J_PASSWORD", canary, actor="tester")
    assert "NEO4J_PASSWORD created by tester" in caplog.text and canary not in caplog.text
    row = ConfigEntry.objects.get(key="NEO4J_PASSWORD")
    assert row.value is None and row.is_secret
    assert canary not in row.ciphertext
    assert config.get("NEO4J_PASSWORD") == canary
    change = ConfigChange.objects.get(key="NEO4J_PASSWORD")
    assert canary not in repr(change.__dict__)
    assert change.new_display == "********" and change.actor == "tester"


def test_set__same_value_is_a_noop() -> None:
    config.set("FALKOR_GRAPH", "g1")
    assert config.set("FALKOR_GRAPH", "g1") is False
    assert ConfigChange.objects.filter(key="FALKOR_GRAPH").count() == 1


def test_get__wrong_key_names_the_setting(settings) -> None:
    from cryptography.fernet import Fernet

    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    config.set("GOOGLE_API_KEY", "k-123")
    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    config.clear_cache()
    with pytest.raises(DecryptionError, match=r"GOOGLE_API_KEY.*ENCRYPTION_KEYS"):
        config.get("GOOGLE_API_KEY")


def test_get__cache_serves_from_memory_until_ttl(settings, django_db_blocker) -> None:
    """Outside a transaction a fresh snapshot costs no query; inside one, one stamp query."""
    settings.EXPERIO_PLATFORM = {"CONFIG_CACHE_TTL": 60}
    config.set("FALKOR_GRAPH", "cached")
    assert config.get("FALKOR_GRAPH") == "cached"
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(20):
            config.get("FALKOR_GRAPH")
    # The test runs in a transaction: one stamp query per read, never a row reload.
    assert len(ctx.captured_queries) == 20
    assert all("configstate" in q["sql"] for q in ctx.captured_queries)


def test_get__sees_a_write_from_elsewhere_through_the_stamp() -> None:
    """A write that bypasses this process's cache (another process) is seen on the next check."""
    config.set("FALKOR_GRAPH", "one")
    assert config.get("FALKOR_GRAPH") == "one"
    ConfigEntry.objects.filter(key="FALKOR_GRAPH").update(value="two")
    assert config.get("FALKOR_GRAPH") == "one"  # same stamp: the snapshot stands
    store.bump_stamp("default")
    assert config.get("FALKOR_GRAPH") == "two"


def test_get__database_error_propagates() -> None:
    from django.db import DatabaseError

    with connection.cursor() as cur:
        cur.execute("ALTER TABLE experio_platform_configentry RENAME TO configentry_gone")
    config.clear_cache()
    with pytest.raises(DatabaseError):
        config.get("NEO4J_URI")


def test_get__never_writes() -> None:
    with CaptureQueriesContext(connection) as ctx:
        config.clear_cache()
        for key in ("GRAPH_PROVIDER", "NEO4J_URI", "NEO4J_PASSWORD"):
            config.get(key)
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in ctx.captured_queries)
