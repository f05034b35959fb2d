"""The health system checks, through ``call_command("check")`` (ids E010-E016 / W010-W016)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from experio_platform.health.system_checks import MIDDLEWARE_PATH

# The settings store is read for the LLM flags; with a database the store's real path runs.
pytestmark = pytest.mark.django_db


def messages(capsys) -> str:  # type: ignore[no-untyped-def]
    try:
        call_command("check", "--fail-level", "CRITICAL")
    except SystemCheckError as exc:
        return str(exc)
    captured = capsys.readouterr()
    return captured.out + captured.err


QUIET = {"HEALTH_DISABLED_CHECKS": ["llm", "mcp"]}


def ids(text: str) -> set[str]:
    import re

    return set(re.findall(r"experio_platform\.[EW]0(?:1\d|2\d)", text))


def test_checks__defaults_are_clean(configure, settings, capsys) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    configure(**QUIET)
    assert ids(messages(capsys)) == set()


def test_checks__deadline_at_or_above_lb_timeout(configure, capsys) -> None:
    configure(**QUIET, HEALTH_DEADLINE=5.0, HEALTH_LB_TIMEOUT=5.0)
    text = messages(capsys)
    assert "experio_platform.E011" in text and "HEALTH_LB_TIMEOUT" in text


def test_checks__bad_numbers_and_modes(configure, capsys) -> None:
    configure(**QUIET, HEALTH_CHECK_TIMEOUT=0, HEALTH_DETAIL="sometimes", HEALTH_PATHS=["/h/"])
    found = ids(messages(capsys))
    assert {"experio_platform.E010", "experio_platform.E012", "experio_platform.E013"} <= found


def test_checks__invalid_check_path(configure, capsys) -> None:
    configure(HEALTH_EXTRA_CHECKS=["tests.health.helpers.no_such_check"])
    text = messages(capsys)
    assert "experio_platform.E014" in text and "no_such_check" in text


def test_checks__enabled_but_not_configured(configure, settings, capsys) -> None:
    settings.REDIS_URL = None
    configure(HEALTH_CHECKS=["redis"])
    text = messages(capsys)
    assert "experio_platform.W011" in text and "'redis'" in text


def test_checks__llm_flags(configure, capsys) -> None:
    configure(HEALTH_CHECKS=["llm"], CONFIG_OVERRIDES={})
    assert "experio_platform.W010" in messages(capsys)
    configure(
        HEALTH_CHECKS=["llm"],
        CONFIG_OVERRIDES={"USE_AZURE_OPENAI": "true", "USE_GOOGLE_GENAI": "yes"},
    )
    assert "experio_platform.E015" in messages(capsys)
    configure(
        HEALTH_CHECKS=["llm"],
        CONFIG_OVERRIDES={"USE_AZURE_OPENAI": "true", "AZURE_OPENAI_ENDPOINT": "http://x"},
    )
    text = messages(capsys)
    assert "experio_platform.W011" in text and "AZURE_OPENAI_API_KEY" in text


def test_checks__timeouts_and_pool(configure, capsys) -> None:
    configure(
        HEALTH_CHECKS=[{"name": "slow", "check": "tests.health.helpers.ok", "timeout": 3}],
        HEALTH_DEADLINE=2.5,
    )
    assert "experio_platform.W012" in messages(capsys)
    configure(
        HEALTH_CHECKS=["tests.health.helpers.ok", "tests.health.helpers.fail"],
        HEALTH_MAX_WORKERS=1,
    )
    assert "experio_platform.W016" in messages(capsys)


def test_checks__middleware_placement(configure, settings, capsys) -> None:
    configure(**QUIET)
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    assert "experio_platform.W013" in messages(capsys)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE_PATH]
    assert "experio_platform.W014" in messages(capsys)


def test_checks__short_token(configure, capsys) -> None:
    configure(**QUIET, HEALTH_TOKEN="short")
    assert "experio_platform.W015" in messages(capsys)


@pytest.mark.parametrize("database", ["hung", "closed"])
def test_checks__unreachable_database_neither_hangs_nor_crashes(database: str) -> None:
    """``manage.py check`` (devsite settings, as an operator runs it) with PostgreSQL behind a
    port that accepts and never answers, or a closed port: the health system checks give the
    settings store STORE_READ_TIMEOUT (1 s) and fall back to CONFIG_OVERRIDES/defaults. Before
    the bounded read, the hung case took 2 x libpq's connect_timeout (20 s with devsite's 5 s)."""
    import os
    import subprocess
    import sys
    import time

    from tests.support.net import free_port
    from tests.support.proxy import FaultProxy

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with FaultProxy(("127.0.0.1", free_port())) as proxy:
        proxy.mode = "hang"
        port = proxy.port if database == "hung" else free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "devsite.settings",
            "DATABASE_URL": "",
            "DB_NAME": "experio_health_syscheck",
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(port),
            # A real key: no E030 from the settings store's checks, so the exit code is ours.
            "EXPERIO_ENCRYPTION_KEYS": "aLhCY7_OwEsEqvJRZV5Dwu2O0zhsJ0WnpsQ1ZoFJ4YI=",
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in output, output
    assert "experio_platform.W010" in output  # the flags still came from overrides/defaults
    assert elapsed < 4.0, elapsed


@pytest.mark.django_db(transaction=True)
def test_checks__store_rows_read_outside_a_transaction(configure, capsys) -> None:
    """No transaction open (as in ``manage.py check``): the bounded read in its own thread
    still sees the store's rows, which win over CONFIG_OVERRIDES."""
    from experio_platform import config

    configure(HEALTH_CHECKS=["llm"], CONFIG_OVERRIDES={"USE_AZURE_OPENAI": "false"})
    config.set("USE_AZURE_OPENAI", True, source="test")
    config.set("USE_GOOGLE_GENAI", True, source="test")
    try:
        assert "experio_platform.E015" in messages(capsys)
    finally:
        config.delete("USE_AZURE_OPENAI")
        config.delete("USE_GOOGLE_GENAI")
