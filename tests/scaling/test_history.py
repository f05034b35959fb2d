"""Every change of a service's desired state lands in the history, whichever path made it
(issue 5 §1 "every change is recorded with who, when and why"): admin, API, seed and scaler
say who and why with ``attributed()``; a bare ORM write is still recorded (source ``orm``)."""

from __future__ import annotations

import getpass
from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import transaction
from django.utils import timezone

from experio_platform.scaling.history import attributed, keep_down
from experio_platform.scaling.models import ServiceConfiguration, ServiceConfigurationChange

pytestmark = pytest.mark.django_db


def svc(key: str = "parser", **kw) -> ServiceConfiguration:
    kw.setdefault("platform_resource", key)
    kw.setdefault("queues", [key])
    return ServiceConfiguration.objects.create(key=key, **kw)


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
