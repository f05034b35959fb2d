"""Fixtures of the settings-store tests: fresh PostgreSQL databases and manage.py subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from experio_platform import config
from experio_platform.config.registry import BUILTIN_KEYS

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "Zq7-deploy-Horse-91"
CANARY = "canary-7f3a9-do-not-print"
# The suite runs with DEBUG off, where seed_config/initdb refuse the SECRET_KEY fallback (E030):
# every test's EXPERIO_PLATFORM carries a key, as production does.
TEST_KEY = Fernet.generate_key().decode()
# Variables that would leak the developer's or CI's environment into seeding decisions: every
# registry variable, and the accounts' passwords.
SEED_VARS = [
    *(var for key in BUILTIN_KEYS for var in key.variables),
    "DJANGO_SUPERUSER_PASSWORD",
    "PLAYWRIGHT_TEST_USER_PASS",
]


@pytest.fixture(autouse=True)
def _clean_config(monkeypatch: pytest.MonkeyPatch, settings) -> Iterator[None]:
    """Every test starts from an empty environment for the seeded keys and an empty cache."""
    for name in SEED_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    settings.EXPERIO_PLATFORM = platform()
    config.clear_cache()
    yield
    config.clear_cache()


def platform(**values: object) -> dict[str, object]:
    """An EXPERIO_PLATFORM for a test: the test key, no overrides, then ``values``."""
    return {"ENCRYPTION_KEYS": [TEST_KEY], "CONFIG_OVERRIDES": {}, **values}


def _pg_connect(dbname: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=os.environ.get("DB_PORT", "5432"),
        user=os.environ.get("DB_USER", "postgres"),
        password=os.environ.get("DB_PASSWORD") or None,
        dbname=dbname,
        autocommit=True,
    )


@pytest.fixture
def fresh_db() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server (dropped afterwards)."""
    if not os.environ.get("DB_HOST"):
        pytest.skip("needs the test PostgreSQL (. .run/test/env.sh)")
    name = f"experio_config_t_{uuid.uuid4().hex[:8]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(dbname: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run ``sql`` on ``dbname`` (a fresh test database); return its rows ([] for a write)."""
    with _pg_connect(dbname) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SEED_VARS}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update({"PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"})
    env.update(extra)
    return env


def manage(
    args: list[str], env: Mapping[str, str], timeout: float = 90
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
