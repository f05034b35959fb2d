"""Leader election on real PostgreSQL: three run_scaler processes, one leader, kill it.

The platform is the local Kubernetes API server of ``fakes.py``; it scales ``neo4j`` back to 0
after every patch, so the leader acts on every pass and each act is recorded with its holder
and epoch (the fencing token).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from experio_platform.scaling.lease import LeaderLease
from experio_platform.scaling.models import ScalerLease, ScalingDecision, ServiceConfiguration
from tests.scaling.fakes import FakeKubernetes, running

ROOT = Path(__file__).resolve().parents[2]
TTL, INTERVAL = 1.5, 0.3
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


class DriftingKubernetes(FakeKubernetes):
    """Something keeps scaling neo4j back to 0, so every leader pass has work to do."""

    def handle(self, method: str, path: str, body: Any, headers: Any) -> Any:
        result = super().handle(method, path, body, headers)
        if method == "PATCH" and result and result[0] == 200:
            self.objects[("default", "deployments", "neo4j")]["replicas"] = 0
        return result


def spawn(holder: str, k8s_url: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(DB_NAME=connection.settings_dict["NAME"], SCALER_KUBERNETES_HOST=k8s_url)
    cmd = [sys.executable, "manage.py", "run_scaler", "--settings=tests.settings"]
    cmd += ["--backend", "kubernetes", "--interval", str(INTERVAL), "--lease-ttl", str(TTL)]
    cmd += ["--holder", holder]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_for(cond: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    return None


def test_leader__three_replicas_one_acts_takeover_after_kill() -> None:
    ServiceConfiguration.objects.create(
        key="neo4j",
        platform_resource="deployment/neo4j",
        mode="keep_alive",
        pinned_replicas=1,
        max_replicas=1,
    )
    with running(DriftingKubernetes()) as fake:
        fake.set_replicas("deployment/neo4j", 0)
        procs = {f"p{i}": spawn(f"p{i}", fake.url) for i in range(3)}
        try:
            first = wait_for(lambda: ScalingDecision.objects.filter(outcome="applied").first(), 30)
            assert first, "no leader acted"
            time.sleep(1.0)  # several passes of the first leader
            leader = ScalerLease.objects.get().holder
            assert first.holder == leader
            procs[leader].kill()  # SIGKILL: no chance to release the lease
            killed_at = time.time()
            procs[leader].wait()

            def new_leader_act() -> Any:
                return (
                    ScalingDecision.objects.filter(outcome="applied")
                    .exclude(holder=leader)
                    .order_by("decided_at")
                    .first()
                )

            took_over = wait_for(new_leader_act, 15)
            assert took_over, "nobody took over"
            first_act = took_over.decided_at.timestamp() - killed_at
            takeover = ScalerLease.objects.get().acquired_at.timestamp() - killed_at
            time.sleep(1.0)
        finally:
            exits = {}
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for name, proc in procs.items():
                exits[name] = proc.wait(timeout=20)
    print(
        f"lease taken over {takeover:.2f}s after the kill, first act {first_act:.2f}s "
        f"(TTL {TTL}s + interval {INTERVAL}s)"
    )
    # 0.5 s of slack: three Django processes share 2 busy cores with the other test suites.
    assert takeover <= TTL + INTERVAL + 0.5, f"takeover took {takeover:.2f}s"
    assert first_act <= TTL + 2 * INTERVAL + 0.5, f"first act after {first_act:.2f}s"
    # SIGTERM finishes the pass and exits 0.
    assert all(code == 0 for name, code in exits.items() if name != leader), exits

    acts = list(ScalingDecision.objects.filter(outcome="applied").order_by("decided_at", "id"))
    epochs = [d.epoch for d in acts]
    assert epochs == sorted(epochs), "epochs went backwards"
    by_epoch: dict[int, list] = {}
    for d in acts:
        by_epoch.setdefault(d.epoch, []).append(d)
    assert len(by_epoch) >= 2
    for epoch, ds in by_epoch.items():
        assert len({d.holder for d in ds}) == 1, f"two holders acted in epoch {epoch}"
    ordered = sorted(by_epoch)
    for a, b in itertools.pairwise(ordered):
        assert a < b
        # No two leaders act in the same window: every act of epoch a precedes epoch b's.
        assert by_epoch[a][-1].decided_at < by_epoch[b][0].decided_at
    # Every act reached the platform exactly once.
    assert len([r for r in fake.requests if r["method"] == "PATCH"]) == len(acts)


def test_lease__takeover_only_after_expiry_and_fencing() -> None:
    a = LeaderLease("scaling_test", "a", ttl=0.5)
    b = LeaderLease("scaling_test", "b", ttl=0.5)
    assert a.acquire_or_renew() and a.epoch == 1
    assert not b.acquire_or_renew()
    assert a.acquire_or_renew() and a.epoch == 1  # renewal keeps the epoch
    time.sleep(0.6)
    assert b.acquire_or_renew() and b.epoch == 2
    assert not a.still_leader()  # the stalled leader is fenced off
    assert not a.acquire_or_renew()
    b.release()
    assert a.acquire_or_renew() and a.epoch == 3
