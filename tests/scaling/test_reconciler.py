"""Reconcile passes against real PostgreSQL, real RabbitMQ and the local platform servers."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pika
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from experio_platform.scaling.backends.kubernetes import KubernetesBackend
from experio_platform.scaling.backends.log import LogBackend
from experio_platform.scaling.backends.omnistrate import OmnistrateBackend
from experio_platform.scaling.metrics import QueueMetricsReader, _pika_url
from experio_platform.scaling.models import (
    ScalingDecision,
    ServiceConfiguration,
    ServiceConfigurationChange,
)
from experio_platform.scaling.reconciler import Reconciler
from tests.scaling.fakes import FakeKubernetes, FakeOmnistrate, running
from tests.scaling.rows import service as row

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]
T0 = 2_000_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def test_reconcile__keep_alive_scales_kubernetes_and_records_decision() -> None:
    with running(FakeKubernetes()) as fake:
        fake.set_replicas("deployment/neo4j", 0)
        svc = row(
            "neo4j",
            platform_resource="deployment/neo4j",
            mode="keep_alive",
            pinned_replicas=1,
            max_replicas=1,
            queues=[],
        )
        rec = Reconciler(KubernetesBackend(host=fake.url, namespace="default"), None, holder="t")
        report = rec.run_pass()
        assert [(r.key, r.outcome, r.observed, r.desired) for r in report.rows] == [
            ("neo4j", "applied", 0, 1)
        ]
        assert fake.replicas("deployment/neo4j") == 1
        d = ScalingDecision.objects.get(service=svc)
        assert (d.observed_replicas, d.desired_replicas, d.outcome) == (0, 1, "applied")
        assert "keep_alive: pinned at 1" in d.reasons
        svc.refresh_from_db()
        assert svc.observed_replicas == 0 and svc.last_action.startswith("applied")
        # Desired and observed meet: the next pass does nothing and records nothing.
        assert rec.run_pass().rows[0].outcome == "steady"
        assert ScalingDecision.objects.count() == 1


def test_reconcile__auto_from_real_rabbitmq_backlog() -> None:
    amqp, mgmt = os.environ["CELERY_BROKER_URL"], os.environ["RABBITMQ_MANAGEMENT_URL"]
    queue = f"scaling_{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters(_pika_url(amqp)))
    ch = conn.channel()
    ch.queue_declare(queue)
    try:
        for i in range(50):
            ch.basic_publish("", queue, str(i).encode())
        svc = row("parser", queues=[queue], max_replicas=4)
        backend = LogBackend({"parser": 0})
        reader = QueueMetricsReader(mgmt, amqp, timeout=2)
        rec = Reconciler(backend, reader, holder="t")
        deadline = time.monotonic() + 20
        # RabbitMQ publishes a new queue's statistics after its first sampling interval.
        while time.monotonic() < deadline:
            m = reader.read([queue])
            if m.source == "management" and m.ready == 50:
                break
            time.sleep(0.2)
        rec.run_pass()
        assert backend.replicas["parser"] == 3  # ceil(50 / 20)
        d = ScalingDecision.objects.filter(service=svc).order_by("decided_at").last()
        assert d.queue_snapshot["source"] == "management"
        assert d.queue_snapshot["queues"][0]["name"] == queue
        reader.close()
    finally:
        ch.queue_delete(queue)
        conn.close()


def test_reconcile__omnistrate_lost_answer_is_confirmed_not_resent() -> None:
    """The POST is applied but its answer is lost: the next pass re-reads and finds the new
    capacity, so no second "add" is ever sent (the double-add the delta API invites)."""
    clock = Clock()
    with running(FakeOmnistrate(settle_reads=1)) as fake:
        fake.set_replicas("parser", 1)
        row("parser", mode="keep_alive", pinned_replicas=3, max_replicas=4)
        rec = Reconciler(OmnistrateBackend(sidecar_url=fake.url, timeout=2), None, clock=clock)
        fake.lose_next_post = True
        assert rec.run_pass().rows[0].outcome == "unknown"
        svc = ServiceConfiguration.objects.get(key="parser")
        assert svc.pending_operation["verb"] == "add" and svc.pending_operation["to"] == 3
        for _ in range(4):
            clock.now += 120  # past the backoff
            rec.run_pass()
        assert [p["body"] for p in fake.posts()] == [{"capacityToBeAdded": 2}]
        assert fake.replicas("parser") == 3
        svc.refresh_from_db()
        assert svc.pending_operation is None and svc.last_action.startswith("confirmed add 2")


def test_reconcile__one_delta_in_flight_then_409_busy() -> None:
    clock = Clock()
    with running(FakeOmnistrate(settle_reads=100)) as fake:
        fake.set_replicas("parser", 0, status="PAUSED")  # not ACTIVE at zero: still scales up
        row("parser", mode="keep_alive", pinned_replicas=2, max_replicas=4)
        rec = Reconciler(OmnistrateBackend(sidecar_url=fake.url, timeout=2), None, clock=clock)
        assert rec.run_pass().rows[0].outcome == "accepted"
        clock.now += 30
        assert rec.run_pass().rows[0].outcome == "pending"  # in flight: nothing re-issued
        assert len(fake.posts()) == 1
        # Past the operation timeout the row re-decides; the platform still says busy: 409.
        clock.now += 700
        assert rec.run_pass().rows[0].outcome == "busy"
        assert len(fake.posts()) == 2
        assert ServiceConfiguration.objects.get(key="parser").pending_operation is None
        assert ScalingDecision.objects.filter(outcome="busy").count() == 1


def test_reconcile__backend_error_recorded_with_backoff_then_retried() -> None:
    clock = Clock()
    backend = OmnistrateBackend(sidecar_url="http://127.0.0.1:9", timeout=0.5)
    row("parser", mode="keep_down")
    rec = Reconciler(backend, None, clock=clock, backoff_base=30, backoff_max=100)
    assert rec.run_pass().rows[0].outcome == "error"
    svc = ServiceConfiguration.objects.get(key="parser")
    assert "unreachable" in svc.last_error and svc.consecutive_errors == 1
    clock.now += 10
    assert rec.run_pass().rows[0].outcome == "backoff"
    clock.now += 25
    assert rec.run_pass().rows[0].outcome == "error"
    svc.refresh_from_db()
    assert svc.consecutive_errors == 2
    assert svc.next_attempt_at.timestamp() == pytest.approx(clock.now + 60)
    with running(FakeOmnistrate()) as fake:
        fake.set_replicas("parser", 0)
        backend.sidecar_url = fake.url
        clock.now += 61
        assert rec.run_pass().rows[0].outcome == "steady"
    svc.refresh_from_db()
    assert svc.consecutive_errors == 0 and svc.last_error == ""


def test_reconcile__keep_alive_expiry_reverts_to_keep_down_with_history() -> None:
    backend = LogBackend({"jupyterlab": 1})
    svc = row(
        "jupyterlab",
        mode="keep_alive",
        pinned_replicas=1,
        max_replicas=1,
        queues=[],
        keep_alive_until=timezone.now() - timedelta(minutes=1),
    )
    Reconciler(backend, None).run_pass()
    svc.refresh_from_db()
    assert svc.mode == "keep_down" and svc.keep_alive_until is None
    assert backend.replicas["jupyterlab"] == 0
    change = ServiceConfigurationChange.objects.get(service=svc, source="scaler")
    assert change.actor == "scaler" and change.reason == "keep_alive expired"
    assert change.changes["mode"] == ["keep_alive", "keep_down"]


def test_reconcile__dry_run_row_and_paused_row_do_not_call_platform() -> None:
    backend = LogBackend({"reader": 0, "parser": 0})
    row("reader", mode="keep_alive", pinned_replicas=1, dry_run=True)
    row("parser", mode="paused", previous_mode="keep_down")
    report = Reconciler(backend, None).run_pass()
    assert {r.key: r.outcome for r in report.rows} == {"parser": "steady", "reader": "dry_run"}
    assert backend.calls == []
    assert ScalingDecision.objects.get().outcome == "dry_run"
    svc = ServiceConfiguration.objects.get(key="reader")
    assert svc.last_action == "dry-run: would scale 0 -> 1"


def test_reconcile__metric_error_holds_and_is_recorded() -> None:
    backend = LogBackend({"parser": 2})
    row("parser")
    reader = QueueMetricsReader("http://127.0.0.1:9", None, timeout=0.3)
    report = Reconciler(backend, reader).run_pass()
    assert report.rows[0].desired == 2 and backend.calls == []
    assert report.rows[0].outcome == "hold" and "unreachable" in report.rows[0].detail
    svc = ServiceConfiguration.objects.get(key="parser")
    assert "unreachable" in svc.last_error and svc.next_attempt_at is not None


def test_reconcile__prunes_old_decisions() -> None:
    svc = row("parser")
    old = ScalingDecision.objects.create(
        service=svc,
        decided_at=timezone.now() - timedelta(days=30),
        backend="log",
        mode="auto",
        desired_replicas=1,
        outcome="applied",
    )
    Reconciler(LogBackend(), None, retention_days=14).run_pass()
    assert not ScalingDecision.objects.filter(pk=old.pk).exists()


def test_run_scaler_command__once_and_usage_errors(capsys) -> None:
    row("neo4j", mode="keep_alive", pinned_replicas=1, max_replicas=1, queues=[])
    call_command("run_scaler", "--once", "--backend", "log", "--no-lease")
    assert "neo4j" in capsys.readouterr().out
    with pytest.raises(CommandError) as exc:
        call_command("run_scaler", "--interval", "30", "--lease-ttl", "10", "--backend", "log")
    assert exc.value.returncode == 2


def test_run_scaler_command__only_accepts_commas_and_rejects_unknown_keys(capsys) -> None:
    for key in ("neo4j", "falkordb", "jupyterlab"):
        row(key, mode="keep_alive", pinned_replicas=1, max_replicas=1, queues=[])
    call_command(
        "run_scaler", "--once", "--backend", "log", "--no-lease", "--only", "neo4j,falkordb"
    )
    out = capsys.readouterr().out
    assert "neo4j" in out and "falkordb" in out and "jupyterlab" not in out
    with pytest.raises(CommandError) as exc:  # a typo must not silently reconcile nothing
        call_command("run_scaler", "--once", "--backend", "log", "--only", "neo4", "--no-lease")
    assert exc.value.returncode == 2 and "neo4" in str(exc.value)


def test_reconcile__stalled_leader_is_fenced_before_the_platform_call() -> None:
    """The leader stalls past its TTL mid-pass (GC pause, SIGSTOP); another replica takes the
    lease; the stalled one must find out right before its platform call and not act."""
    from experio_platform.scaling.lease import LeaderLease

    row("neo4j", mode="keep_alive", pinned_replicas=1, max_replicas=1, queues=[])
    a = LeaderLease("scaling_fence", "a", ttl=0.3)
    b = LeaderLease("scaling_fence", "b", ttl=5)

    class StallingBackend(LogBackend):
        def read(self, resource: str):
            time.sleep(0.4)  # past a's TTL
            assert b.acquire_or_renew() and b.epoch == 2
            return super().read(resource)

    backend = StallingBackend({"neo4j": 0})
    report = Reconciler(backend, None, lease=a).run_pass()
    assert report.rows[0].outcome == "fenced" and not report.leader
    assert backend.calls == []  # the platform was never touched
    d = ScalingDecision.objects.get()
    assert (d.outcome, d.epoch, d.holder) == ("fenced", 1, "a")


def test_run_loop__survives_a_failing_pass_and_stops_on_signal() -> None:
    from django.db import OperationalError

    from experio_platform.scaling.runner import StopFlag, run_loop

    stop = StopFlag()
    calls: list[int] = []

    class Flaky:
        lease = None

        def run_pass(self, only=None):
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("server closed the connection unexpectedly")
            if len(calls) == 3:
                stop.event.set()  # as the SIGTERM handler does

    assert run_loop(Flaky(), interval=0.01, stop=stop) == 3


def test_reconcile__kubernetes_lost_answer_is_not_repeated() -> None:
    """An absolute patch whose answer is lost: recorded as an error, the next pass re-reads,
    finds the count already applied and sends nothing more."""
    clock = Clock()
    with running(FakeKubernetes()) as fake:
        fake.set_replicas("deployment/neo4j", 0)
        row(
            "neo4j",
            platform_resource="deployment/neo4j",
            mode="keep_alive",
            pinned_replicas=1,
            max_replicas=1,
            queues=[],
        )
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        rec = Reconciler(backend, None, clock=clock)
        fake.lose_next_patch = True
        assert rec.run_pass().rows[0].outcome == "error"
        assert fake.replicas("deployment/neo4j") == 1  # applied although unanswered
        clock.now += 120
        assert rec.run_pass().rows[0].outcome == "steady"
        assert len([r for r in fake.requests if r["method"] == "PATCH"]) == 1
        backend.close()
