"""Every change of a service's desired state lands in the history, whichever path made it
(issue 5 §1 "every change is recorded with who, when and why"): admin, API, seed and scaler
say who and why with ``attributed()``; a bare ORM write is still recorded (source ``orm``)."""

from __future__ import annotations

import getpass
from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from experio_platform.scaling.history import attributed, keep_down
from experio_platform.scaling.models import (
    DESIRED_FIELDS,
    ScalingDecision,
    ServiceConfiguration,
    ServiceConfigurationChange,
)
from tests.scaling.rows import service as svc

pytestmark = pytest.mark.django_db


def entries(key: str = "parser") -> list[ServiceConfigurationChange]:
    return list(ServiceConfigurationChange.objects.filter(service_key=key).order_by("id"))


def test_history__orm_save_is_recorded_with_the_os_user() -> None:
    row = svc()
    row.mode, row.pinned_replicas = "keep_alive", 2
    row.save()
    created, changed = entries()
    assert created.source == "orm" and created.changes["mode"] == [None, "auto"]
    assert changed.source == "orm" and changed.actor == getpass.getuser()
    assert changed.reason == "direct ORM write (no reason given)"
    assert changed.changes == {"mode": ["auto", "keep_alive"], "pinned_replicas": [0, 2]}
    assert changed.service_id == row.pk and changed.changed_at is not None


def test_history__queryset_update_is_recorded_per_row() -> None:
    svc("parser"), svc("reader"), svc("neo4j", mode="keep_down", queues=[])
    with attributed("ops-script", "shell", "night freeze"):
        n = ServiceConfiguration.objects.filter(mode="auto").update(mode="keep_down")
    assert n == 2
    for key in ("parser", "reader"):
        last = entries(key)[-1]
        assert (last.actor, last.source, last.reason) == ("ops-script", "shell", "night freeze")
        assert last.changes == {"mode": ["auto", "keep_down"]}
    assert len(entries("neo4j")) == 1  # only its creation: the update did not match it


def test_history__bulk_update_and_bulk_create_are_recorded() -> None:
    rows = ServiceConfiguration.objects.bulk_create(
        [ServiceConfiguration(key=k, platform_resource=k, queues=[k]) for k in ("a", "b")]
    )
    assert [len(entries(k)) for k in ("a", "b")] == [1, 1]
    for r in rows:
        r.max_replicas = 9
    ServiceConfiguration.objects.bulk_update(rows, ["max_replicas"])
    assert entries("a")[-1].changes == {"max_replicas": [4, 9]}
    assert entries("b")[-1].changes == {"max_replicas": [4, 9]}


def test_history__observed_state_and_no_op_writes_add_nothing() -> None:
    row = svc(keep_alive_until=timezone.now() + timedelta(hours=1))
    before = ServiceConfigurationChange.objects.count()
    ServiceConfiguration.objects.filter(pk=row.pk).update(observed_replicas=3, last_error="x")
    row.refresh_from_db()
    # The same instant in another zone is no change (or every save would log one).
    row.keep_alive_until = row.keep_alive_until.astimezone(dt_timezone(timedelta(hours=5)))
    row.save()
    row.save(update_fields=["last_action"])
    assert ServiceConfigurationChange.objects.count() == before


def test_history__rolled_back_change_leaves_no_entry() -> None:
    row = svc()
    with pytest.raises(RuntimeError), transaction.atomic():
        row.mode = "keep_down"
        row.save()
        raise RuntimeError("abort")
    assert [e.changes.get("mode") for e in entries()] == [[None, "auto"]]


def test_history__helpers_attribute_once() -> None:
    """The operator helpers (admin actions, API) give one entry with their actor, not two."""
    row = svc()
    keep_down(row, source="api", reason="cost")
    last = entries()[-1]
    assert len(entries()) == 2
    assert (last.actor, last.source, last.reason) == ("unknown", "api", "cost")


# ---- deletion: the row goes, its last desired state stays in the history -----------------


def assert_deletion_entry(entry: ServiceConfigurationChange, row: ServiceConfiguration) -> None:
    assert entry.service_id is None and entry.service_key == row.key
    assert set(entry.changes) == set(DESIRED_FIELDS)
    assert all(new is None for _, new in entry.changes.values())
    assert {k: old for k, (old, _) in entry.changes.items()} == row.snapshot()


def test_history__model_delete_is_recorded() -> None:
    row = svc(mode="keep_alive", pinned_replicas=2, keep_alive_until=timezone.now())
    row.refresh_from_db()
    row.delete()
    created, deleted = entries()
    assert created.service_id is None  # unlinked by on_delete=SET_NULL, still keyed
    assert deleted.source == "orm" and deleted.actor == getpass.getuser()
    assert deleted.changes["mode"] == ["keep_alive", None]
    assert deleted.changes["pinned_replicas"] == [2, None]
    assert deleted.changes["previous_mode"] == ["", None]
    assert_deletion_entry(deleted, row)
    assert not ServiceConfiguration.objects.filter(key="parser").exists()


def test_history__queryset_delete_is_recorded_per_row_with_attribution() -> None:
    rows = [svc("parser"), svc("reader"), svc("neo4j", mode="keep_down", queues=[])]
    with attributed("ops-script", "shell", "workers retired"):
        count, per_model = ServiceConfiguration.objects.filter(mode="auto").delete()
    assert count == 2 and per_model["experio_platform.ServiceConfiguration"] == 2
    for row in rows[:2]:
        last = entries(row.key)[-1]
        assert (last.actor, last.source, last.reason) == ("ops-script", "shell", "workers retired")
        assert_deletion_entry(last, row)
        assert len(entries(row.key)) == 2
    assert len(entries("neo4j")) == 1  # not matched: still there, nothing recorded
    # As with Django's own QuerySet.delete(): the manager offers no delete() of everything.
    assert not hasattr(ServiceConfiguration.objects, "delete")


def test_history__rolled_back_or_refused_delete_leaves_no_entry() -> None:
    row = svc()
    with pytest.raises(RuntimeError), transaction.atomic():
        row.delete()
        raise RuntimeError("abort")
    with pytest.raises(TypeError, match="values"):
        ServiceConfiguration.objects.values("key").delete()
    with pytest.raises(TypeError):
        ServiceConfiguration.objects.all()[:1].delete()
    assert ServiceConfiguration.objects.filter(key="parser").exists()  # (delete() unset row.pk)
    assert [e.changes.get("mode") for e in entries()] == [[None, "auto"]]


def test_history__admin_delete_page_and_bulk_action_are_recorded(client, staff) -> None:
    one, two, three = svc("parser"), svc("reader"), svc("cleanup")
    client.force_login(staff)
    url = reverse("admin:experio_platform_serviceconfiguration_delete", args=[one.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    changelist = reverse("admin:experio_platform_serviceconfiguration_changelist")
    data = {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"}
    assert client.post(changelist, data).status_code == 302
    assert not ServiceConfiguration.objects.exists()
    for row in (one, two, three):
        last = entries(row.key)[-1]
        assert (last.actor, last.source, last.changed_by) == ("ops", "admin", staff)
        assert last.reason == "deleted in the admin"
        assert_deletion_entry(last, row)


def test_history__admin_deletes_a_service_that_has_decisions(client, staff) -> None:
    # The decisions admin is read-only; that must not make a service with decisions undeletable.
    row = svc("parser")
    ScalingDecision.objects.create(
        service=row,
        decided_at=timezone.now(),
        backend="log",
        mode="auto",
        desired_replicas=1,
        outcome="applied",
    )
    client.force_login(staff)
    url = reverse("admin:experio_platform_serviceconfiguration_delete", args=[row.pk])
    page = client.get(url)
    assert page.status_code == 200 and b"permission" not in page.content
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not ServiceConfiguration.objects.exists() and not ScalingDecision.objects.exists()
    assert_deletion_entry(entries("parser")[-1], row)
