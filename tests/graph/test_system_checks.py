"""Graph system checks, run through `manage.py check` (no network I/O)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def _check() -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        return str(exc) + out.getvalue() + err.getvalue()
    return out.getvalue() + err.getvalue()


def test_checks__defaults_are_clean() -> None:
    assert "experio_platform.E05" not in _check()
    assert "experio_platform.W050" not in _check()


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ({"GRAPH_PROVIDERS": {"neo4j": "no.such.Provider"}}, "E050"),
        ({"GRAPH_PROVIDERS": []}, "E050"),
        ({"CONFIG_OVERRIDES": {"GRAPH_PROVIDER": "neo5j"}}, "E051"),
        ({"GRAPH_QUERY_TIMEOUT": 0}, "E052"),
        ({"GRAPH_FALKOR_TRANSACTIONS": "maybe"}, "E052"),
        (
            {"GRAPH_PROVIDERS": {"fake": "tests.graph.test_system_checks.MissingDriverProvider"}},
            "W050",
        ),
    ],
)
def test_checks__misconfiguration(settings, platform: dict, expected: str) -> None:
    settings.EXPERIO_PLATFORM = platform
    assert f"experio_platform.{expected}" in _check()


class MissingDriverProvider:
    driver_module = "no_such_graph_driver_pkg"
