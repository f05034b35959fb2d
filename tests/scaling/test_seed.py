"""seed_autoscaling_config: defaults, idempotence, --force/--only/--dry-run/--check/--json."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from experio_platform.scaling.models import ServiceConfiguration, ServiceConfigurationChange
from experio_platform.scaling.seed import UnknownServiceError, seed_autoscaling_config

pytestmark = pytest.mark.django_db

WORKERS = [
    "reader",
    "structured_data",
    "enrichment",
    "coordinator",
    "downloader",
    "parser",
    "classifier",
    "ingestion_v2",
    "cleanup",
]


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("seed_autoscaling_config", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_seed__creates_documented_defaults() -> None:
    report = seed_autoscaling_config()
    assert report.counts["created"] == 12
    rows = {s.key: s for s in ServiceConfiguration.objects.all()}
    assert (rows["neo4j"].mode, rows["neo4j"].pinned_replicas) == ("keep_alive", 1)
    assert rows["falkordb"].mode == rows["jupyterlab"].mode == "keep_down"
    for key in WORKERS:
        row = rows[key]
        assert row.mode == "auto"
        assert row.queues == [key]
        assert row.platform_resource == key
        assert (row.max_replicas, row.target_messages_per_replica) == (4, 20)
        assert row.idle_seconds_before_zero == 600
        assert row.min_replicas == (1 if key == "coordinator" else 0)
    # Every created row has its history entry.
    assert ServiceConfigurationChange.objects.filter(actor="seed").count() == 12


def test_seed__idempotent_and_keeps_operator_edits() -> None:
    seed_autoscaling_config()
    ServiceConfiguration.objects.filter(key="parser").update(max_replicas=9)
    report = seed_autoscaling_config()
    assert report.counts["created"] == 0 and report.counts["unchanged"] == 12
    assert not report.pending
    assert ServiceConfiguration.objects.get(key="parser").max_replicas == 9
    parser = next(line for line in report.lines if line.name == "parser")
    assert "max_replicas" in parser.detail


def test_seed__force_only_resets_one_row_with_field_diff() -> None:
    seed_autoscaling_config()
    ServiceConfiguration.objects.filter(key__in=["parser", "reader"]).update(
        max_replicas=9, mode="keep_down"
    )
    report = seed_autoscaling_config(force=True, only=["parser"])
    assert [(line.name, line.action) for line in report.lines] == [("parser", "updated")]
    line = report.lines[0]
    assert line.old == "mode=keep_down max_replicas=9"
    assert line.new == "mode=auto max_replicas=4"
    assert ServiceConfiguration.objects.get(key="parser").max_replicas == 4
    assert ServiceConfiguration.objects.get(key="reader").max_replicas == 9
    change = ServiceConfigurationChange.objects.filter(service_key="parser").first()
    assert change.changes["max_replicas"] == [9, 4]


def test_seed__dry_run_writes_nothing() -> None:
    report = seed_autoscaling_config(dry_run=True)
    assert report.counts["created"] == 12 and report.dry_run
    assert ServiceConfiguration.objects.count() == 0
    assert ServiceConfigurationChange.objects.count() == 0


def test_seed__unknown_only_key_raises() -> None:
    with pytest.raises(UnknownServiceError, match="nope"):
        seed_autoscaling_config(only=["parser,nope"])


def test_seed__host_override_with_one_setting(settings) -> None:
    settings.EXPERIO_PLATFORM = {
        "AUTOSCALING_DEFAULTS": {
            "parser": {"max_replicas": 8, "platform_resource": "experio-parser"},
            "jupyterlab": None,
            "ocr": {"queues": ["ocr_jobs"]},
        }
    }
    report = seed_autoscaling_config()
    rows = {s.key: s for s in ServiceConfiguration.objects.all()}
    assert "jupyterlab" not in rows
    assert (rows["parser"].max_replicas, rows["parser"].platform_resource) == (8, "experio-parser")
    assert rows["ocr"].queues == ["ocr_jobs"] and rows["ocr"].mode == "auto"
    assert {line.name: line.source for line in report.lines}["parser"] == "setting"


def test_seed__economy_profile_through_the_documented_snippet(settings) -> None:
    # docs/scaling.md, "Worker profiles": the whole profile for every worker in one setting.
    from experio_platform.scaling.defaults import ECONOMY_WORKER_PROFILE, WORKERS

    settings.EXPERIO_PLATFORM = {
        "AUTOSCALING_DEFAULTS": {key: ECONOMY_WORKER_PROFILE for key in WORKERS}
    }
    seed_autoscaling_config()
    rows = {s.key: s for s in ServiceConfiguration.objects.all()}
    for key in WORKERS:
        assert (rows[key].target_messages_per_replica, rows[key].idle_seconds_before_zero) == (
            45,
            300,
        )
        assert rows[key].queues == [key]
    assert rows["coordinator"].min_replicas == 1  # the rest of each worker's defaults stays
    assert rows["neo4j"].target_messages_per_replica == 20  # manual rows untouched


def test_seed__invalid_override_is_an_error_and_nothing_written(settings) -> None:
    settings.EXPERIO_PLATFORM = {"AUTOSCALING_DEFAULTS": {"parser": {"min_replicas": 9}}}
    code, out = run()
    assert code == 1
    assert "ERROR" in out and "min_replicas" in out
    assert ServiceConfiguration.objects.count() == 0


def test_seed_command__check_exit_codes_and_json() -> None:
    code, out = run("--check")
    assert code == 3 and "CREATED" in out and "dry run, nothing written" in out
    assert ServiceConfiguration.objects.count() == 0
    code, out = run("--json")
    assert code == 0
    data = json.loads(out)
    assert data["command"] == "seed_autoscaling_config" and data["counts"]["created"] == 12
    assert run("--check")[0] == 0
    code, out = run("--only", "nope")
    assert code == 2
    code, _ = run("--dry-run", "--force")
    assert code == 0
