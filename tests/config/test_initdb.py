"""``initdb``: validation first, default accounts, idempotence, concurrency, no graph access.

In-process tests use the pytest-django database (Django's default User). Subprocess tests run
``manage.py initdb`` against fresh PostgreSQL databases on the test server (and a SQLite file),
which is how the deploy job runs.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
import time
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from experio_platform.config.models import ConfigEntry
from experio_platform.config.registry import BUILTIN_KEYS
from tests.config.conftest import (
    ADMIN_PASSWORD,
    CANARY,
    ROOT,
    child_env,
    manage,
    platform,
    query,
)

ADMIN = "admin@experiolabs.ai"
TESTER = "playwright@thinknimble.com"


def initdb(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(
            "initdb", "--skip-migrate", "--wait", "2", *args, stdout=out, stderr=StringIO()
        )
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


@pytest.mark.django_db
def test_initdb__missing_or_weak_password_fails_before_touching_the_db(monkeypatch) -> None:
    with CaptureQueriesContext(connection) as ctx:
        code, out = initdb()
    assert code == 1 and "DJANGO_SUPERUSER_PASSWORD is not set" in out
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "12345678")
    monkeypatch.setenv("NEO4J_URI", "http://wrong:7474")
    with CaptureQueriesContext(connection) as ctx2:
        code, out = initdb()
    assert code == 1 and "AUTH_PASSWORD_VALIDATORS" in out and "NEO4J_URI" in out
    assert ctx.captured_queries == [] and ctx2.captured_queries == []
    assert not get_user_model().objects.exists() and not ConfigEntry.objects.exists()


@pytest.mark.django_db
def test_initdb__creates_accounts_and_store_then_is_idempotent(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    created = []

    def receiver(sender, instance, created_flag=None, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("created"):
            created.append(instance.get_username())

    post_save.connect(receiver, sender=get_user_model(), weak=False)
    try:
        code, out = initdb()
    finally:
        post_save.disconnect(receiver, sender=get_user_model())
    assert code == 0, out
    admin = get_user_model().objects.get()
    assert admin.username == ADMIN and admin.email == ADMIN
    assert admin.is_superuser and admin.is_staff and admin.check_password(ADMIN_PASSWORD)
    assert created == [ADMIN]  # through the manager: host signals (e.g. DRF tokens) fire
    assert "SKIPPED" in out and "PLAYWRIGHT_TEST_USER_PASS is not set" in out
    assert ConfigEntry.objects.count() == len(BUILTIN_KEYS)
    # The autoscaling seed ran in the same transaction, with its lines in the same report.
    from experio_platform.scaling.models import ServiceConfiguration

    assert ServiceConfiguration.objects.exists()
    code, out = initdb()
    data = json.loads(initdb("--json")[1])
    counts = data["counts"]
    assert code == 0 and counts["created"] == counts["updated"] == 0
    sections = {item["section"] for item in data["items"]}
    assert {"accounts", "config", "autoscaling"} <= sections
    assert initdb("--check")[0] == 0
    # A changed environment is pending: --check exits 3 and writes nothing.
    monkeypatch.setenv("NEO4J_URI", "bolt://graph-b:7687")
    code, out = initdb("--check")
    assert code == 3 and "bolt://localhost:7687 -> bolt://graph-b:7687" in out
    assert ConfigEntry.objects.get(key="NEO4J_URI").value == "bolt://localhost:7687"


@pytest.mark.django_db
def test_initdb__existing_admin_kept_and_repaired(monkeypatch) -> None:
    user_model = get_user_model()
    user_model.objects.create_user("Admin@ExperioLabs.AI", "Admin@ExperioLabs.AI", "old-Pass-91x")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    code, out = initdb("--dry-run")
    assert code == 0 and "is_staff, is_superuser" in out
    assert not user_model.objects.get().is_superuser
    code, out = initdb()
    admin = user_model.objects.get()  # found case-insensitively: no second admin
    assert admin.is_superuser and admin.is_staff and admin.check_password("old-Pass-91x")
    code, out = initdb("--sync-passwords")
    admin.refresh_from_db()
    assert code == 0 and admin.check_password(ADMIN_PASSWORD) and "password" in out
    assert ADMIN_PASSWORD not in out


@pytest.mark.django_db
def test_initdb__test_user_follows_its_variable(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("PLAYWRIGHT_TEST_USER_PASS", "pw-one-Lx81")
    assert initdb()[0] == 0
    tester = get_user_model().objects.get(username=TESTER)
    assert not tester.is_superuser and tester.check_password("pw-one-Lx81")
    monkeypatch.setenv("PLAYWRIGHT_TEST_USER_PASS", "pw-two-Lx82")
    code, out = initdb()
    tester.refresh_from_db()
    assert code == 0 and tester.check_password("pw-two-Lx82") and "pw-two" not in out


# ---- subprocesses on fresh databases ------------------------------------------------------


def _counts(db: str, user_table: str = "auth_user") -> tuple[int, int, int, int]:
    # user_table is one of two constants of this module.
    admins = query(db, f"SELECT count(*) FROM {user_table} WHERE is_superuser")[0][0]  # noqa: S608
    testers = query(db, f"SELECT count(*) FROM {user_table} WHERE NOT is_superuser")[0][0]  # noqa: S608
    rows = query(db, "SELECT count(*), count(DISTINCT key) FROM experio_platform_configentry")[0]
    return admins, testers, rows[0], rows[1]


@pytest.mark.slow
def test_initdb__four_concurrent_runs_on_a_fresh_database(fresh_db: str) -> None:
    env = child_env(
        DB_NAME=fresh_db,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        PLAYWRIGHT_TEST_USER_PASS="pw-test-Lx81",
        NEO4J_PASSWORD=CANARY,
        EXPERIO_LOG_LEVEL="DEBUG",  # every log line of the package reaches stderr
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "initdb", "--wait", "20"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert CANARY not in out and CANARY not in err
    logged = "".join(err for _, _, err in results)
    assert "settings store: NEO4J_PASSWORD created by initdb" in logged  # the log was captured
    assert _counts(fresh_db) == (1, 1, len(BUILTIN_KEYS), len(BUILTIN_KEYS))
    # Exactly one runner created the accounts; the others found them.
    created = [re.search(r"^admin@experiolabs\.ai\s+CREATED", out, re.M) for _, out, _ in results]
    assert sum(bool(m) for m in created) == 1
    again = manage(["initdb"], env)
    assert again.returncode == 0
    assert "0 created, 0 updated" in again.stdout.splitlines()[-1]


@pytest.mark.slow
def test_initdb__email_username_model(fresh_db: str) -> None:
    env = child_env(
        DB_NAME=fresh_db,
        DJANGO_SETTINGS_MODULE="tests.settings_emailuser",
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        PLAYWRIGHT_TEST_USER_PASS="pw-test-Lx81",
    )
    # A missing or a weak admin password: exit 1 before anything, not even a migration.
    for password in ("", "password123"):
        refused = manage(["initdb"], {**env, "DJANGO_SUPERUSER_PASSWORD": password})
        assert refused.returncode == 1, refused.stderr[-2000:]
        assert ("is not set" if not password else "AUTH_PASSWORD_VALIDATORS") in refused.stdout
    plan = manage(["initdb", "--check", "--json"], env)
    assert plan.returncode == 3, plan.stderr[-2000:]
    items = {(i["section"], i["name"]): i["action"] for i in json.loads(plan.stdout)["items"]}
    assert items[("accounts", ADMIN)] == items[("accounts", TESTER)] == "created"
    assert items[("config", "GRAPH_PROVIDER")] == "created" and ("autoscaling", "neo4j") in items
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert query(fresh_db, tables) == [(0,)]  # the dry run wrote nothing, not even migrations
    first = manage(["initdb"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = query(
        fresh_db, "SELECT email, is_superuser, email_verified FROM emailuser_emailuser ORDER BY 1"
    )
    assert rows == [(ADMIN, True, False), (TESTER, False, True)]
    # An admin whose email differs in case is found, not duplicated.
    query(
        fresh_db, "UPDATE emailuser_emailuser SET email = upper(email) WHERE email = %s", (ADMIN,)
    )
    second = manage(["initdb"], env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "0 created, 0 updated" in second.stdout.splitlines()[-1]
    assert _counts(fresh_db, "emailuser_emailuser")[:2] == (1, 1)


GUARD = textwrap.dedent(
    """
    # Installed by the test as sitecustomize: refuse every outbound connection except to the
    # database, record the attempts, and report the graph drivers' presence at exit.
    import atexit, os, socket, sys

    _allowed = {(os.environ["DB_HOST"], int(os.environ["DB_PORT"]))}
    _real_connect = socket.socket.connect
    _real_connect_ex = socket.socket.connect_ex

    def _check(addr):
        if isinstance(addr, tuple) and (addr[0], int(addr[1])) not in _allowed:
            print(f"GUARD-REFUSED {addr[0]}:{addr[1]}", file=sys.stderr)
            raise ConnectionRefusedError(f"guard: outbound connection to {addr} refused")

    def connect(self, addr):
        _check(addr)
        return _real_connect(self, addr)

    def connect_ex(self, addr):
        _check(addr)
        return _real_connect_ex(self, addr)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex

    @atexit.register
    def _report():
        loaded = sorted(m for m in ("neo4j", "falkordb") if m in sys.modules)
        print("GUARD-MODULES " + ",".join(loaded), file=sys.stderr)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_initdb__needs_only_postgres_never_a_graph_db(fresh_db: str, tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(GUARD)
    dead = _free_port()  # nothing listens here: the graph servers are "stopped"
    env = child_env(
        DB_NAME=fresh_db,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        GRAPH_PROVIDER="falkordb",
        NEO4J_URI=f"bolt://127.0.0.1:{dead}",
        NEO4J_PASSWORD=CANARY,
        FALKOR_URI=f"redis://127.0.0.1:{dead}",
        FALKOR_PASSWORD=CANARY,
    )
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    result = manage(["initdb", "--wait", "10"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "GUARD-REFUSED" not in result.stderr
    modules = [ln for ln in result.stderr.splitlines() if ln.startswith("GUARD-MODULES")]
    assert modules == ["GUARD-MODULES "], modules  # the guard ran; no graph driver imported
    assert CANARY not in result.stdout + result.stderr
    provider = query(
        fresh_db, "SELECT value FROM experio_platform_configentry WHERE key = 'GRAPH_PROVIDER'"
    )
    assert provider == [("falkordb",)]
    secret = query(
        fresh_db, "SELECT ciphertext FROM experio_platform_configentry WHERE key = 'NEO4J_PASSWORD'"
    )
    assert secret[0][0] and CANARY not in secret[0][0]
    # The guard does refuse: a probe to the dead graph port from the same interpreter fails.
    probe = subprocess.run(
        [sys.executable, "-c", f"import socket; socket.create_connection(('127.0.0.1', {dead}))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode != 0 and "GUARD-REFUSED" in probe.stderr


@pytest.mark.slow
def test_initdb__sqlite_embedded_default(tmp_path: Path) -> None:
    env = child_env(
        DJANGO_SETTINGS_MODULE="devsite.settings",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DJANGO_DEBUG="1",  # the make-dev profile (without ENCRYPTION_KEYS: W030, not E030)
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    for var in ("DB_NAME", "DB_HOST", "DATABASE_URL", "EXPERIO_ENCRYPTION_KEYS"):
        env.pop(var, None)
    # DEBUG off without ENCRYPTION_KEYS: E030 refuses before the database is opened.
    refused = manage(["initdb"], {**env, "DJANGO_DEBUG": "0"})
    assert refused.returncode == 2 and "experio_platform.E030" in refused.stderr, refused.stderr
    assert not (tmp_path / "db.sqlite3").exists()
    first = manage(["initdb"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "warning: (experio_platform.W030)" in first.stderr
    second = manage(["initdb", "--check"], env)
    assert second.returncode == 0, second.stdout[-2000:]
    assert "0 created, 0 updated" in second.stdout.splitlines()[-1]


@pytest.mark.slow
def test_initdb__database_unreachable_fails_within_the_wait(fresh_db: str) -> None:
    env = child_env(
        DB_NAME=fresh_db, DB_PORT=str(_free_port()), DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD
    )
    result = manage(["initdb", "--wait", "1.5"], env, timeout=60)
    assert result.returncode == 1
    assert "did not accept a connection within 1.5 s" in result.stderr
    # Validation comes first and opens no connection: an invalid run fails at once, not after
    # the wait.
    env["DJANGO_SUPERUSER_PASSWORD"] = ""
    started = time.monotonic()
    result = manage(["initdb", "--wait", "60"], env, timeout=60)
    assert result.returncode == 1 and "DJANGO_SUPERUSER_PASSWORD is not set" in result.stdout
    assert "waiting for database" not in result.stderr and time.monotonic() - started < 20


@pytest.mark.django_db
def test_initdb__malformed_autoscaling_defaults_is_a_config_error(monkeypatch, settings) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    settings.EXPERIO_PLATFORM = platform(AUTOSCALING_DEFAULTS=["not", "a", "dict"])
    with CaptureQueriesContext(connection) as ctx:
        code, out = initdb()
    assert code == 2 and "AUTOSCALING_DEFAULTS" in out
    assert ctx.captured_queries == [] and not get_user_model().objects.exists()


@pytest.mark.django_db
def test_initdb__an_error_line_rolls_back_the_whole_step(monkeypatch, settings) -> None:
    """A secret stored under a lost key is an error line of the seed: the admin created earlier
    in the same transaction is rolled back, nothing is half-written, exit 1."""
    from cryptography.fernet import Fernet

    from experio_platform import config

    settings.EXPERIO_PLATFORM = platform(ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    config.set("GOOGLE_API_KEY", CANARY)
    settings.EXPERIO_PLATFORM = platform()  # another key: the row cannot be decrypted
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    code, out = initdb()
    assert code == 1 and "settings-store key GOOGLE_API_KEY cannot be decrypted" in out
    assert CANARY not in out
    assert not get_user_model().objects.exists() and ConfigEntry.objects.count() == 1
