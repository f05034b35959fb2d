"""Model invariants (DB constraints + clean()), admin actions, the DRF API, system checks."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from experio_platform.scaling.models import (
    ScalingDecision,
    ServiceConfiguration,
    ServiceConfigurationChange,
)
from tests.scaling.rows import service as svc

pytestmark = pytest.mark.django_db


# ---- invariants ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"min_replicas": 5, "max_replicas": 2}, "scaling_min_lte_max"),
        ({"mode": "keep_alive", "pinned_replicas": 0}, "scaling_keep_alive_gte_1"),
        ({"mode": "keep_alive", "pinned_replicas": 9}, "scaling_pinned_within_bounds"),
        ({"target_messages_per_replica": 0}, "scaling_target_gte_1"),
    ],
)
def test_model__database_constraints(fields, constraint) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        svc(**fields)


def test_model__one_row_per_platform_resource() -> None:
    svc("parser", platform_resource="shared")
    with pytest.raises(IntegrityError), transaction.atomic():
        svc("reader", platform_resource="shared")


def test_model__clean_gives_friendly_field_messages() -> None:
    obj = ServiceConfiguration(
        key="x",
        platform_resource="x",
        mode="keep_alive",
        pinned_replicas=0,
        min_replicas=3,
        max_replicas=1,
        target_messages_per_replica=0,
        queues="parser",
    )
    with pytest.raises(ValidationError) as exc:
        obj.full_clean()
    errors = exc.value.message_dict
    assert "above maximum" in errors["min_replicas"][0]
    assert "Keep down" in errors["pinned_replicas"][0]
    assert "at least 1" in errors["target_messages_per_replica"][0]
    assert "list of queue names" in errors["queues"][0]
    assert "__all__" not in errors  # no duplicate constraint messages


def test_history__append_only() -> None:
    s = svc()
    entry = ServiceConfigurationChange.objects.create(
        service=s, service_key="parser", actor="x", source="shell"
    )
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


# ---- admin -----------------------------------------------------------------------------------


def _action(client, action: str, *keys: str, **extra) -> None:
    ids = [ServiceConfiguration.objects.get(key=k).pk for k in keys]
    url = reverse("admin:experio_platform_serviceconfiguration_changelist")
    data = {"action": action, "_selected_action": ids, "index": 0, **extra}
    resp = client.post(url, data, follow=True)
    assert resp.status_code == 200


def test_admin__changelist_shows_badges_and_desired_vs_observed(client, staff) -> None:
    svc("parser", dry_run=True, observed_replicas=0)
    svc("neo4j", mode="keep_alive", pinned_replicas=1, max_replicas=1, observed_replicas=0)
    client.force_login(staff)
    html = client.get(
        reverse("admin:experio_platform_serviceconfiguration_changelist")
    ).content.decode()
    assert "dry-run" in html and "Keep alive" in html
    assert "1 / 0" in html and "reconciling" in html
    assert "0..4 / 0" in html


def test_admin__actions_keep_alive_wake_pause_resume_keep_down(client, staff) -> None:
    svc("jupyterlab", mode="keep_down", max_replicas=1, pinned_replicas=1, queues=[])
    client.force_login(staff)
    _action(client, "wake_for_hours", "jupyterlab", hours="2")
    row = ServiceConfiguration.objects.get(key="jupyterlab")
    assert row.mode == "keep_alive" and row.pinned_replicas == 1
    assert abs((row.keep_alive_until - timezone.now()).total_seconds() - 7200) < 60
    _action(client, "pause", "jupyterlab")
    row.refresh_from_db()
    assert (row.mode, row.previous_mode) == ("paused", "keep_alive")
    _action(client, "resume", "jupyterlab")
    row.refresh_from_db()
    assert row.mode == "keep_alive" and row.keep_alive_until is not None
    _action(client, "keep_down", "jupyterlab")
    row.refresh_from_db()
    assert row.mode == "keep_down" and row.keep_alive_until is None
    # Keep alive with too many replicas fails with the model's message, nothing saved.
    resp = client.post(
        reverse("admin:experio_platform_serviceconfiguration_changelist"),
        {"action": "keep_alive", "_selected_action": [row.pk], "index": 0, "replicas": "3"},
        follow=True,
    )
    assert "between minimum" in resp.content.decode()
    row.refresh_from_db()
    assert row.mode == "keep_down"
    by_admin = ServiceConfigurationChange.objects.exclude(source="orm")  # not the test's setup
    assert set(by_admin.values_list("actor", flat=True)) == {"ops"}
    assert by_admin.filter(service=row).count() == 4


def test_admin__edit_records_history_with_reason(client, staff) -> None:
    row = svc("parser")
    client.force_login(staff)
    url = reverse("admin:experio_platform_serviceconfiguration_change", args=[row.pk])
    ScalingDecision.objects.create(
        service=row,
        decided_at=timezone.now(),
        backend="log",
        mode="auto",
        observed_replicas=0,
        desired_replicas=1,
        outcome="applied",
        reasons=["activation: ready 3 > 0 or in flight"],
    )
    page = client.get(url)
    assert "activation: ready 3" in page.content.decode()
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        max_replicas=6,
        queues='["parser"]',
        change_reason="batch import tonight",
        **{"changes-TOTAL_FORMS": 0, "changes-INITIAL_FORMS": 0},
    )
    resp = client.post(url, data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    change = ServiceConfigurationChange.objects.get(service=row, source="admin")
    assert (
        change.actor == "ops"
        and change.changes["max_replicas"] == [4, 6]
        and change.reason == "batch import tonight"
    )


def test_admin__decisions_and_history_are_read_only(client, staff) -> None:
    client.force_login(staff)
    assert client.get(reverse("admin:experio_platform_scalingdecision_add")).status_code == 403
    assert (
        client.get(reverse("admin:experio_platform_serviceconfigurationchange_add")).status_code
        == 403
    )


# ---- API -------------------------------------------------------------------------------------


def test_api__staff_only(staff) -> None:
    svc("parser")
    api = APIClient()
    assert api.get("/api/platform/services/").status_code in (401, 403)
    get_user_model().objects.create_user("viewer", password="pw")
    api.login(username="viewer", password="pw")
    assert api.get("/api/platform/services/").status_code == 403
    api.force_authenticate(staff)
    data = api.get("/api/platform/services/").json()
    assert [d["key"] for d in data] == ["parser"]
    assert data[0]["desired"] == "0..4" and data[0]["pending"] is False


def test_api__patch_mode_and_replicas_with_history(staff) -> None:
    svc("neo4j", mode="keep_down", max_replicas=2, pinned_replicas=1, queues=[])
    api = APIClient()
    api.force_authenticate(staff)
    resp = api.patch(
        "/api/platform/services/neo4j/",
        {"mode": "keep_alive", "replicas": 2, "reason": "demo"},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["mode"] == "keep_alive" and resp.json()["replicas"] == 2
    change = ServiceConfigurationChange.objects.get(source="api")
    assert change.source == "api" and change.actor == "ops" and change.reason == "demo"
    assert change.changes["mode"] == ["keep_down", "keep_alive"]
    resp = api.patch("/api/platform/services/neo4j/", {"mode": "paused"}, format="json")
    assert resp.json()["previous_mode"] == "keep_alive"
    assert api.put("/api/platform/services/neo4j/", {}, format="json").status_code == 405
    assert (
        api.patch("/api/platform/services/neo4j/", {"key": "x"}, format="json").json()["key"]
        == "neo4j"
    )


def test_api__validation_errors_are_field_messages(staff) -> None:
    svc("parser")
    api = APIClient()
    api.force_authenticate(staff)
    resp = api.patch(
        "/api/platform/services/parser/", {"mode": "keep_alive", "replicas": 9}, format="json"
    )
    assert resp.status_code == 400
    assert "between minimum" in resp.json()["replicas"][0]
    resp = api.patch("/api/platform/services/parser/", {"min_replicas": 7}, format="json")
    assert resp.status_code == 400 and "above maximum" in resp.json()["min_replicas"][0]
    resp = api.patch("/api/platform/services/parser/", {"mode": "sideways"}, format="json")
    assert resp.status_code == 400 and "mode" in resp.json()
    assert ServiceConfiguration.objects.get(key="parser").mode == "auto"
    assert api.get("/api/platform/services/nope/").status_code == 404


# ---- system checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "check_id"),
    [
        ({"SCALER_BACKEND": "nomad"}, "E070"),
        ({"AUTOSCALING_DEFAULTS": {"parser": {"colour": "red"}}}, "E071"),
        ({"SCALER_LEASE_TTL": 10, "SCALER_INTERVAL": 30}, "E072"),
        ({"SCALER_INTERVAL": 0}, "E073"),
    ],
)
def test_system_checks__errors(settings, setting, check_id) -> None:
    settings.EXPERIO_PLATFORM = setting
    with pytest.raises(SystemCheckError, match=rf"experio_platform\.{check_id}"):
        call_command("check")


def test_system_checks__warnings(settings, monkeypatch, capsys) -> None:
    monkeypatch.delenv("RABBITMQ_MANAGEMENT_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("OMNISTRATE_API_KEY", "k")
    settings.EXPERIO_PLATFORM = {"SCALER_BACKEND": "omnistrate", "SCALER_LEASE_TTL": 40}
    # fail_level: other areas' errors (e.g. config's E030 with DEBUG off) must not hide ours.
    call_command("check", fail_level="CRITICAL")
    err = capsys.readouterr().err
    assert "W070" in err and "OMNISTRATE_SERVICE_ID" in err
    assert "W071" in err and "W072" in err
    # The ids without credentials, or an e-mail without its password: still the sidecar.
    monkeypatch.delenv("OMNISTRATE_API_KEY")
    for name, value in (("OMNISTRATE_SERVICE_ID", "s"), ("OMNISTRATE_ENVIRONMENT_ID", "e")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMNISTRATE_INSTANCE_ID", "i")
    monkeypatch.setenv("OMNISTRATE_USER", "ops@example.com")
    call_command("check", fail_level="CRITICAL")
    err = capsys.readouterr().err
    assert "W070" in err and "OMNISTRATE_PASSWORD" in err
    monkeypatch.setenv("OMNISTRATE_PASSWORD", "p")  # complete: no warning
    call_command("check", fail_level="CRITICAL")
    assert "W070" not in capsys.readouterr().err
    settings.EXPERIO_PLATFORM = {"SCALER_BACKEND": "log"}
    call_command("check", fail_level="CRITICAL")
    assert "W07" not in capsys.readouterr().err
