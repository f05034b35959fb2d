"""The package's foundation: lazy settings, the shared system checks, the seed report shape."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from experio_platform.conf import platform_settings
from experio_platform.reporting import SeedReport


def test_platform_settings__default_then_override(settings) -> None:
    assert platform_settings.HEALTH_CACHE_TTL == 2.0
    settings.EXPERIO_PLATFORM = {"HEALTH_CACHE_TTL": 0}
    assert platform_settings.HEALTH_CACHE_TTL == 0


def test_platform_settings__unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError, match="NOPE"):
        platform_settings.NOPE  # noqa: B018


def test_system_check__unknown_key_is_an_error(settings) -> None:
    settings.EXPERIO_PLATFORM = {"HEALTH_DEADLIN": 1}
    with pytest.raises(SystemCheckError, match=r"experio_platform\.E002.*HEALTH_DEADLIN"):
        call_command("check")


def test_system_check__settings_not_a_dict_is_an_error(settings) -> None:
    settings.EXPERIO_PLATFORM = ["x"]
    with pytest.raises(SystemCheckError, match=r"experio_platform\.E001"):
        call_command("check")


def test_seed_report__text_and_json_shapes() -> None:
    report = SeedReport("seed_config")
    report.add("NEO4J_URI", "updated", "env", "bolt://a:7687", "bolt://b:7687")
    report.add("NEO4J_PASSWORD", "unchanged", "env", "********", "********")
    text = report.render_text()
    assert "NEO4J_URI       UPDATED    env       bolt://a:7687 -> bolt://b:7687" in text
    assert text.splitlines()[-1] == "seed_config: 0 created, 1 updated, 1 unchanged"
    assert report.pending
    data = json.loads(report.render_json())
    assert data["counts"]["updated"] == 1 and data["items"][0]["name"] == "NEO4J_URI"
