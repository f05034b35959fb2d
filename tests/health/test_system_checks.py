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
