"""One contract suite for every scaling backend, plus each API's own rules.

Omnistrate and Kubernetes run their real client code (httpx; the official ``kubernetes``
client) against the local servers in ``fakes.py``, which follow the documented APIs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from experio_platform.scaling.backends import (
    BackendBusy,
    BackendError,
    OutcomeUnknown,
    ScalingBackend,
    build_backend,
)
from experio_platform.scaling.backends.kubernetes import KubernetesBackend
from experio_platform.scaling.backends.log import LogBackend
from experio_platform.scaling.backends.omnistrate import OmnistrateBackend
from experio_platform.scaling.models import ServiceConfiguration
from experio_platform.scaling.reconciler import Reconciler
from tests.scaling.fakes import FakeKubernetes, FakeOmnistrate, running
from tests.scaling.rows import service as _row

pytestmark = pytest.mark.timeout(60)


@dataclass
class Platform:
    backend: ScalingBackend
    resource: str
    set_replicas: Any
    replicas: Any
    fake: Any = None


def _fleet(fake: FakeOmnistrate, **credentials: str) -> OmnistrateBackend:
    """A fleet-API backend for the fake's instance, with the given credentials."""
    return OmnistrateBackend(
        api_url=fake.url,
        service_id="svc-1",
        environment_id="env-1",
        instance_id="inst-1",
        timeout=2,
        **credentials,  # type: ignore[arg-type]
    )


def _omni(fleet: bool, fake: FakeOmnistrate) -> OmnistrateBackend:
    if fleet:
        return _fleet(fake, api_key=FakeOmnistrate.API_KEY)
    return OmnistrateBackend(sidecar_url=fake.url, timeout=2)


@pytest.fixture(params=["log", "omnistrate-sidecar", "omnistrate-fleet", "kubernetes"])
def platform(request) -> Iterator[Platform]:
    kind = request.param
    if kind == "log":
        backend = LogBackend()
        yield Platform(
            backend,
            "parser",
            lambda r, n: backend.replicas.__setitem__(r, n),
            lambda r: backend.replicas[r],
        )
        return
    if kind.startswith("omnistrate"):
        with running(FakeOmnistrate()) as fake:
            backend = _omni(kind.endswith("fleet"), fake)
            yield Platform(backend, "parser", fake.set_replicas, fake.replicas, fake)
            backend.close()
        return
    with running(FakeKubernetes()) as fake:
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        yield Platform(backend, "deployment/parser", fake.set_replicas, fake.replicas, fake)
        backend.close()


def converge(p: Platform, want: int) -> int:
    for _ in range(5):
        got = p.backend.read(p.resource).replicas
        if got == want:
            return got
    return got


def test_backend_contract__read_reports_platform_replicas(platform: Platform) -> None:
    platform.set_replicas(platform.resource, 2)
    assert platform.backend.read(platform.resource).replicas == 2


def test_backend_contract__scale_up_from_zero_and_down(platform: Platform) -> None:
    platform.set_replicas(platform.resource, 0)
    state = platform.backend.read(platform.resource)
    result = platform.backend.scale(platform.resource, state.replicas, 3)
    assert result.outcome in ("applied", "accepted")
    assert converge(platform, 3) == 3
    assert platform.replicas(platform.resource) == 3
    state = platform.backend.read(platform.resource)
    platform.backend.scale(platform.resource, state.replicas, 1)
    assert converge(platform, 1) == 1


def test_backend_contract__unknown_resource_is_a_backend_error(platform: Platform) -> None:
    if isinstance(platform.backend, LogBackend):
        pytest.skip("the log backend has no platform to ask")
    with pytest.raises(BackendError, match=r"(?i)not|no resource"):
        platform.backend.read(platform.resource.replace("parser", "nope"))


def test_backend_contract__unreachable_platform_is_a_backend_error(platform: Platform) -> None:
    if isinstance(platform.backend, LogBackend):
        pytest.skip("the log backend has no platform to ask")
    dead = "http://127.0.0.1:9"  # discard port: connection refused
    backend = platform.backend
    if isinstance(backend, OmnistrateBackend):
        backend.sidecar_url = backend.api_url = dead
        backend._token = "still-valid"
    else:
        backend = KubernetesBackend(host=dead, namespace="default", timeout=1)
    with pytest.raises(BackendError, match="unreachable"):
        backend.read(platform.resource)


def test_build_backend__from_settings(settings) -> None:
    settings.EXPERIO_PLATFORM = {
        "SCALER_BACKEND": "kubernetes",
        "SCALER_KUBERNETES_HOST": "http://x",
    }
    assert isinstance(build_backend(), KubernetesBackend)
    assert isinstance(build_backend("log"), LogBackend)
    with pytest.raises(Exception, match="Unknown scaler backend"):
        build_backend("nomad")


def test_build_backend__omnistrate_env_selects_fleet_api(settings, monkeypatch) -> None:
    settings.EXPERIO_PLATFORM = {}
    backend = build_backend("omnistrate")
    assert backend.sidecar_url == "http://127.0.0.1:49750" and not backend.uses_fleet_api
    for name, value in {
        "OMNISTRATE_API_KEY": "sekrit-key",
        "OMNISTRATE_SERVICE_ID": "s",
        "OMNISTRATE_ENVIRONMENT_ID": "e",
        "OMNISTRATE_INSTANCE_ID": "i",
        "OMNISTRATE_SIDECAR_URL": "http://sidecar:1",
    }.items():
        monkeypatch.setenv(name, value)
    backend = build_backend("omnistrate")
    assert backend.uses_fleet_api and backend.sidecar_url == "http://sidecar:1"
    assert "sekrit" not in repr(backend)  # the API key never reaches a repr


# ---- log: the rows' observed count survives a restart ------------------------------------


def test_log__starts_from_the_rows_last_observed_replicas(db) -> None:
    _row("parser", observed_replicas=3)
    _row("neo4j", observed_replicas=None)
    backend = LogBackend()
    assert backend.read("parser").replicas == 3
    assert backend.read("neo4j").replicas == 0  # never observed
    assert backend.read("no-such-row").replicas == 0
    # From then on the process's own count is the platform: the row is not read again.
    backend.scale("parser", 3, 1)
    ServiceConfiguration.objects.filter(key="parser").update(observed_replicas=4)
    assert backend.read("parser").replicas == 1
    # Counts given to the constructor win over the rows.
    assert LogBackend({"parser": 2}).read("parser").replicas == 2


def test_log__restarted_scaler_does_not_start_from_zero(db) -> None:
    row = _row("neo4j", mode="keep_alive", pinned_replicas=2, max_replicas=2)
    first = LogBackend()
    rec = Reconciler(first, None, holder="t")
    assert rec.run_pass().rows[0].outcome == "applied"  # 0 -> 2
    assert rec.run_pass().rows[0].outcome == "steady"  # reads 2 and records it on the row
    row.refresh_from_db()
    assert row.observed_replicas == 2
    restarted = LogBackend()  # a new process: no count in memory
    assert Reconciler(restarted, None, holder="t").run_pass().rows[0].outcome == "steady"
    assert restarted.calls == [] and first.calls == [("neo4j", 0, 2)]


def test_log__back_to_back_once_runs_apply_a_change_once(db) -> None:
    # Each `run_scaler --once --backend log` is a new process. The row records the count read
    # before the pass scaled (0), so the second run must learn 2 from the applied decision.
    row = _row("neo4j", mode="keep_alive", pinned_replicas=2, max_replicas=2)
    first, second = LogBackend(), LogBackend()
    assert Reconciler(first, None, holder="t").run_pass().rows[0].outcome == "applied"
    row.refresh_from_db()
    assert row.observed_replicas == 0  # what the first pass read
    assert Reconciler(second, None, holder="t").run_pass().rows[0].outcome == "steady"
    assert second.calls == [] and first.calls == [("neo4j", 0, 2)]


# ---- Omnistrate: paths, bodies, 202, 409, lost answers, sign-in ----------------------------


def test_omnistrate_sidecar__documented_paths_bodies_and_202() -> None:
    with running(FakeOmnistrate()) as fake:
        fake.set_replicas("parser", 1)
        backend = _omni(False, fake)
        assert backend.scale("parser", 1, 3).outcome == "accepted"
        assert fake.posts()[-1]["path"] == "/resource/parser/capacity/add"
        assert fake.posts()[-1]["body"] == {"capacityToBeAdded": 2}
        assert backend.read("parser").status == "STARTING"  # asynchronous
        assert backend.read("parser").replicas == 3
        backend.scale("parser", 3, 0)
        assert fake.posts()[-1]["path"] == "/resource/parser/capacity/remove"
        assert fake.posts()[-1]["body"] == {"capacityToBeRemoved": 3}
        backend.close()


def test_omnistrate__409_while_busy() -> None:
    with running(FakeOmnistrate(settle_reads=5)) as fake:
        fake.set_replicas("parser", 0, status="PAUSED")
        backend = _omni(False, fake)
        backend.scale("parser", 0, 1)  # PAUSED at zero does not block scaling up
        with pytest.raises(BackendBusy, match="409"):
            backend.scale("parser", 0, 1)
        backend.close()


def test_omnistrate__lost_answer_raises_outcome_unknown_and_is_not_resent() -> None:
    with running(FakeOmnistrate()) as fake:
        fake.set_replicas("parser", 1)
        fake.lose_next_post = True
        backend = _omni(False, fake)
        with pytest.raises(OutcomeUnknown):
            backend.scale("parser", 1, 2)
        assert len(fake.posts()) == 1  # the client did not retry on its own
        assert converge(Platform(backend, "parser", None, None), 2) == 2  # it was applied
        backend.close()


def test_omnistrate_fleet__signin_bearer_and_documented_paths() -> None:
    with running(FakeOmnistrate()) as fake:
        fake.set_replicas("parser", 0)
        backend = _omni(True, fake)
        backend.scale("parser", 0, 2)
        signin, post = fake.requests[0], fake.posts()[-1]
        assert signin["path"] == "/2022-09-01-00/signin"
        assert signin["body"] == {"apiKey": FakeOmnistrate.API_KEY}
        assert post["path"] == (
            "/2022-09-01-00/fleet/service/svc-1/environment/env-1/instance/inst-1/add-capacity"
        )
        assert post["body"] == {"resourceId": "parser", "capacityToBeAdded": 2}
        assert post["auth"] == "Bearer jwt-1"
        # An expired token (401) triggers one new sign-in, not a failure.
        fake.tokens_issued += 1
        assert backend.read("parser").replicas in (0, 2)
        assert fake.requests[-1]["auth"] == f"Bearer jwt-{fake.tokens_issued}"
        backend.close()


def test_omnistrate_fleet__documented_email_password_signin_wins_over_the_key() -> None:
    """SigninRequest(email, password) is the sign-in omnistrate-sdk-go documents; with both
    configured it is the one used, and the password never reaches an error or the repr."""
    with running(FakeOmnistrate()) as fake:
        fake.set_replicas("parser", 1)
        backend = _fleet(
            fake,
            api_key="a-key-that-would-fail",
            user=FakeOmnistrate.USER,
            password=FakeOmnistrate.PASSWORD,
        )
        assert backend.read("parser").replicas == 1
        assert fake.requests[0]["body"] == {
            "email": FakeOmnistrate.USER,
            "password": FakeOmnistrate.PASSWORD,
        }
        assert FakeOmnistrate.PASSWORD not in repr(backend)
        backend.close()
        wrong = _fleet(fake, user=FakeOmnistrate.USER, password="not-" + FakeOmnistrate.PASSWORD)
        with pytest.raises(BackendError, match="OMNISTRATE_USER") as info:
            wrong.read("parser")
        assert FakeOmnistrate.PASSWORD not in str(info.value)
        wrong.close()


def test_omnistrate_fleet__bad_api_key_is_a_clear_error() -> None:
    with running(FakeOmnistrate()) as fake:
        backend = _fleet(fake, api_key="wrong")
        with pytest.raises(BackendError, match="OMNISTRATE_API_KEY"):
            backend.read("parser")
        backend.close()


# ---- Kubernetes: /scale subresource, merge patch, 409 on a concurrent writer ---------------


def test_kubernetes__patches_scale_subresource_with_resource_version() -> None:
    with running(FakeKubernetes()) as fake:
        fake.set_replicas("statefulset/falkordb", 0)
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        state = backend.read("statefulset/falkordb")
        backend.scale("statefulset/falkordb", state.replicas, 1)
        patch = fake.posts()[-1]
        assert patch["path"] == "/apis/apps/v1/namespaces/default/statefulsets/falkordb/scale"
        assert patch["content_type"] == "application/merge-patch+json"
        assert patch["body"]["spec"] == {"replicas": 1}
        assert patch["body"]["metadata"]["resourceVersion"]
        assert fake.replicas("statefulset/falkordb") == 1
        backend.close()


def test_kubernetes__concurrent_writer_gets_409_busy() -> None:
    with running(FakeKubernetes()) as fake:
        fake.set_replicas("deployment/parser", 1)
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        state = backend.read("deployment/parser")
        fake.set_replicas("deployment/parser", 5)  # an HPA wrote in between
        with pytest.raises(BackendBusy, match="another writer"):
            backend.scale("deployment/parser", state.replicas, 2)
        assert fake.replicas("deployment/parser") == 5
        backend.close()


def test_kubernetes__bad_resource_kind() -> None:
    with pytest.raises(BackendError, match="Deployment or StatefulSet"):
        KubernetesBackend(host="http://127.0.0.1:9").read("cronjob/x")


@pytest.mark.parametrize(
    ("resource", "path_name"),
    [
        ("structured_data", "structured-data"),  # the seeded default (compose service name)
        ("deployment/ingestion_v2", "ingestion-v2"),
        ("default/deployment/structured_data", "structured-data"),
    ],
)
def test_kubernetes__underscores_become_dashes_like_kompose(resource, path_name) -> None:
    with running(FakeKubernetes()) as fake:
        fake.set_replicas(f"deployment/{path_name}", 0)
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        state = backend.read(resource)
        backend.scale(resource, state.replicas, 2)
        url = f"/apis/apps/v1/namespaces/default/deployments/{path_name}/scale"
        assert [(r["method"], r["path"]) for r in fake.requests] == [("GET", url), ("PATCH", url)]
        assert fake.replicas(f"deployment/{path_name}") == 2
        backend.close()


def test_kubernetes__missing_mapped_name_says_which_object() -> None:
    with running(FakeKubernetes()) as fake:
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        with pytest.raises(BackendError, match=r"'structured-data'.*does not exist"):
            backend.read("structured_data")
        backend.close()


@pytest.mark.parametrize(
    ("resource", "shown"),
    [
        ("deployment/Parser", "'Parser'"),
        ("statefulset/parser.v2!", "'parser.v2!'"),
        ("deployment/_parser", "'_parser' (as '-parser')"),
        ("deployment/" + "p" * 254, "'" + "p" * 254 + "'"),
        ("deployment/", "''"),
    ],
)
def test_kubernetes__invalid_name_is_refused_before_any_request(resource, shown) -> None:
    with running(FakeKubernetes()) as fake:
        backend = KubernetesBackend(host=fake.url, namespace="default", timeout=2)
        for call in (lambda: backend.read(resource), lambda: backend.scale(resource, 0, 1)):
            with pytest.raises(BackendError) as info:
                call()
            message = str(info.value)
            assert f"{shown} is not a valid Kubernetes object name" in message
            assert "set the row's platform resource" in message and "lowercase" in message
        assert fake.requests == []
        backend.close()


def test_kubernetes__too_many_slashes_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="NAMESPACE/KIND/NAME"):
        KubernetesBackend(host="http://127.0.0.1:9").read("a/deployment/b/c")
