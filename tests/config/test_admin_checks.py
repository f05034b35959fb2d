"""The settings-store admin (as a superuser, Django's test client), the system checks, and the
cross-process staleness bound of the read cache."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experio_platform import config
from experio_platform.config.models import ConfigChange, ConfigEntry
from experio_platform.config.registry import validate_http_url
from experio_platform.config.seed import seed_config
from tests.config.conftest import CANARY, platform, query


@pytest.fixture
def admin_client_seeded(admin_client, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NEO4J_PASSWORD", CANARY)
    monkeypatch.setenv("NEO4J_URI", "bolt://graph:7687")
    seed_config()
    return admin_client


def _change_url(key: str) -> str:
    pk = ConfigEntry.objects.get(key=key).pk
    return reverse("admin:experio_platform_configentry_change", args=[pk])


@pytest.mark.django_db
def test_admin__secret_never_rendered(admin_client_seeded) -> None:
    client = admin_client_seeded
    pages = [
        client.get(reverse("admin:experio_platform_configentry_changelist")),
        client.get(_change_url("NEO4J_PASSWORD")),
        client.get(reverse("admin:experio_platform_configchange_changelist")),
    ]
    for page in pages:
        assert page.status_code == 200
        assert CANARY not in page.content.decode()
    assert "********" in pages[0].content.decode()
    # Env-managed: read-only, naming the variable; no input to edit.
    html = pages[1].content.decode()
    assert "environment variable NEO4J_PASSWORD" in html and 'name="new_value"' not in html
    assert 'name="_save"' not in html
    assert client.post(_change_url("NEO4J_URI"), {"new_value": "bolt://x:1"}).status_code == 403


@pytest.mark.django_db
def test_admin__edit_seed_once_value_and_blank_secret_keeps(admin_client_seeded, settings) -> None:
    client = admin_client_seeded
    response = client.post(_change_url("MAX_UPLOAD_MB"), {"new_value": "123"})
    assert response.status_code == 302
    assert config.get("MAX_UPLOAD_MB") == 123
    row = ConfigEntry.objects.get(key="MAX_UPLOAD_MB")
    assert row.source == "admin" and row.updated_by == "admin"
    assert ConfigChange.objects.filter(key="MAX_UPLOAD_MB", source="admin").count() == 1
    # Invalid value: the form says why, nothing written.
    response = client.post(_change_url("MAX_UPLOAD_MB"), {"new_value": "lots"})
    assert response.status_code == 200 and "expected int" in response.content.decode()
    assert config.get("MAX_UPLOAD_MB") == 123
    # A seed-once secret (host key): a blank field keeps the stored value.
    settings.EXPERIO_PLATFORM = platform(
        CONFIG_EXTRA_KEYS=["tests.config.test_admin_checks.SECRET"]
    )
    config.set("HOST_TOKEN", CANARY, source="admin")
    page = client.get(_change_url("HOST_TOKEN")).content.decode()
    assert CANARY not in page and 'type="password"' in page
    assert client.post(_change_url("HOST_TOKEN"), {"new_value": ""}).status_code == 302
    assert config.get("HOST_TOKEN") == CANARY
    client.post(_change_url("HOST_TOKEN"), {"new_value": "replaced-Token-1"})
    assert config.get("HOST_TOKEN") == "replaced-Token-1"
    assert CANARY not in client.get(_change_url("HOST_TOKEN")).content.decode()


SECRET = [config.ConfigKey("HOST_TOKEN", "host", secret=True, default="", help="A host secret.")]


@pytest.mark.django_db
def test_admin__change_log_is_read_only(admin_client_seeded) -> None:
    client = admin_client_seeded
    change = ConfigChange.objects.first()
    assert client.get(reverse("admin:experio_platform_configchange_add")).status_code == 403
    url = reverse("admin:experio_platform_configchange_change", args=[change.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(url, {"key": "x"}).status_code == 403
    with pytest.raises(ValueError, match="append-only"):
        change.delete()
    assert client.get(reverse("admin:experio_platform_configentry_add")).status_code == 403


# ---- system checks ------------------------------------------------------------------------


def _check_ids(settings, **platform) -> set[str]:  # type: ignore[no-untyped-def]
    from django.core import checks

    settings.EXPERIO_PLATFORM = platform
    return {m.id for m in checks.run_checks() if m.id and m.id.startswith("experio_platform.")}


def test_checks__secret_key_fallback(settings) -> None:
    """No ENCRYPTION_KEYS: W030 with DEBUG on (make dev), E030 whenever DEBUG is off, also with
    the devsite's django-insecure SECRET_KEY; `manage.py check` fails only on the latter."""
    settings.SECRET_KEY = "django-insecure-devsite-only-never-in-production"
    settings.DEBUG = True
    ids = _check_ids(settings)
    assert "experio_platform.W030" in ids and "experio_platform.E030" not in ids
    call_command("check", "--tag", "experio_platform")  # a warning: no SystemCheckError
    for secret_key in (settings.SECRET_KEY, "a-real-production-secret-key-0123456789-abcdefghij"):
        settings.SECRET_KEY = secret_key
        settings.DEBUG = False
        ids = _check_ids(settings)
        assert "experio_platform.E030" in ids and "experio_platform.W030" not in ids
        with pytest.raises(SystemCheckError, match=r"experio_platform\.E030"):
            call_command("check", "--tag", "experio_platform")
    ids = _check_ids(settings, ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    assert not ids & {"experio_platform.E030", "experio_platform.W030"}


def test_checks__malformed_keys_and_settings(settings) -> None:
    ids = _check_ids(settings, ENCRYPTION_KEYS=[Fernet.generate_key().decode(), "not-a-key"])
    assert "experio_platform.E031" in ids
    assert "experio_platform.E032" in _check_ids(settings, CONFIG_EXTRA_KEYS=["nope.nothing.KEYS"])
    ids = _check_ids(settings, CONFIG_OVERRIDES={"NEO4J_URI": "http://x", "NOPE": 1})
    assert {"experio_platform.E033", "experio_platform.W031"} <= ids
    assert "experio_platform.E034" in _check_ids(settings, CONFIG_CACHE_TTL=-1)
    assert "experio_platform.E035" in _check_ids(
        settings, CONFIG_EXTRA_KEYS=["tests.config.test_admin_checks.BAD_DEFAULT"]
    )
    assert not _check_ids(settings, ENCRYPTION_KEYS=[Fernet.generate_key().decode()]) & {
        f"experio_platform.{c}" for c in ("E031", "E032", "E033", "E034", "E035", "W031")
    }


BAD_DEFAULT = [config.ConfigKey("HOST_URL", "host", default="ftp://x", validator=validate_http_url)]


# ---- the read cache across processes ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_get__change_over_another_connection_seen_after_the_ttl(settings) -> None:
    """Outside a transaction, reads within CONFIG_CACHE_TTL cost no query; a write made over
    another connection is seen once the TTL has passed (two real processes: test_cache.py)."""
    settings.EXPERIO_PLATFORM = platform(CONFIG_CACHE_TTL=0.5)
    config.set("FALKOR_GRAPH", "before")
    assert config.get("FALKOR_GRAPH") == "before"
    db = connection.settings_dict["NAME"]
    query(
        db,
        "UPDATE experio_platform_configentry SET value = %s WHERE key = %s",
        ('"after"', "FALKOR_GRAPH"),
    )
    query(db, "UPDATE experio_platform_configstate SET version = version + 1, epoch = 'other'")
    with CaptureQueriesContext(connection) as ctx:
        assert config.get("FALKOR_GRAPH") == "before"
    assert ctx.captured_queries == []
    deadline = time.monotonic() + 0.5 + 2.0
    while config.get("FALKOR_GRAPH") != "after":
        assert time.monotonic() < deadline, "change not seen within the TTL"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_get__flush_drops_the_snapshot(settings) -> None:
    """TransactionTestCase-style flushes (and migrate) empty the tables without a stamp bump;
    the post_migrate signal drops the snapshot so no value leaks into the next test."""
    settings.EXPERIO_PLATFORM = platform(CONFIG_CACHE_TTL=60)
    config.set("FALKOR_GRAPH", "leaky")
    assert config.get("FALKOR_GRAPH") == "leaky"
    call_command("flush", interactive=False, verbosity=0)
    assert config.get("FALKOR_GRAPH") == "experio"
