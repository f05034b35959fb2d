"""/health/ and /health/simple/ through the real middleware stack (Django test client)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from tests.health.conftest import only_checks
from tests.support.net import free_port
from tests.support.proxy import FaultProxy

H = "tests.health.helpers."
TOKEN = "t0ken-for-health-detail-0123456789"


def body(response) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(response.content)


@pytest.mark.parametrize(
    ("items", "status", "code"),
    [
        ([H + "ok"], "healthy", 200),
        ([H + "ok", {"name": "opt", "check": H + "fail", "critical": False}], "degraded", 200),
        ([H + "ok", {"name": "crit", "check": H + "fail", "critical": True}], "unhealthy", 503),
        ([{"name": "opt", "check": H + "fail", "critical": False}, H + "raises"], "unhealthy", 503),
    ],
)
def test_health__status_rules(configure, client: Client, items, status, code) -> None:
    configure(**only_checks(*items))
    response = client.get("/health/")
    assert response.status_code == code
    assert body(response)["status"] == status


def test_health__json_for_any_accept(configure, client: Client) -> None:
    configure(**only_checks(H + "ok"))
    for accept in ("*/*", "text/html", "application/json", ""):
        response = client.get("/health/", HTTP_ACCEPT=accept)
        assert response["Content-Type"] == "application/json"
        data = body(response)
        entry = data["checks"]["ok"]
        assert set(entry) == {"status", "critical", "latency_ms", "observed_at", "age_s"}
        assert entry["status"] == "healthy" and entry["critical"] is True


def test_health__ietf_health_json(configure, client: Client) -> None:
    configure(
        **only_checks(
            H + "ok", {"name": "opt", "check": H + "fail", "critical": False}, H + "async_ok"
        )
    )
    for kwargs in ({"HTTP_ACCEPT": "application/health+json"}, {"QUERY_STRING": "format=health"}):
        response = client.get("/health/", **kwargs)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/health+json"
        data = body(response)
        assert data["status"] == "warn"  # a failed non-critical check is warn
        assert data["checks"]["opt:responseTime"][0]["status"] == "warn"
        entry = data["checks"]["ok:responseTime"][0]
        assert entry["status"] == "pass"
        assert set(entry) == {"componentType", "observedValue", "observedUnit", "status", "time"}
        assert entry["observedUnit"] == "ms"
    configure(**only_checks({"name": "crit", "check": H + "fail"}))
    response = client.get("/health/?format=health")
    assert response.status_code == 503 and body(response)["status"] == "fail"


def test_health__openmetrics_always_200(configure, client: Client) -> None:
    configure(**only_checks(H + "ok", {"name": "crit", "check": H + "fail"}))
    response = client.get("/health/?format=openmetrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    text = response.content.decode()
    assert 'experio_health_check_up{check="ok",critical="true"} 1' in text
    assert 'experio_health_check_up{check="crit",critical="true"} 0' in text
    assert "experio_health_status 0" in text
    assert 'experio_health_check_latency_seconds{check="ok"}' in text
    assert text.endswith("# EOF\n")
    assert "boom" not in text and "db.internal" not in text


def test_health__anonymous_sees_no_detail(configure, client: Client) -> None:
    configure(
        **only_checks({"name": "crit", "check": H + "fail"}, H + "raises"), HEALTH_TOKEN=TOKEN
    )
    for fmt in ("json", "health", "openmetrics"):
        text = client.get(f"/health/?format={fmt}").content.decode()
        for leak in ("boom", "db.internal", "5432", "10.0.0.9", "6379", "9.9", "reason", "error"):
            assert leak not in text, (fmt, leak)
    wrong = client.get("/health/", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert "reason" not in body(wrong)["checks"]["crit"]


def test_health__token_unlocks_detail(configure, client: Client) -> None:
    configure(
        **only_checks({"name": "crit", "check": H + "fail"}, H + "raises"), HEALTH_TOKEN=TOKEN
    )
    data = body(client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    assert data["checks"]["crit"]["error"] == "boom at db.internal:5432"
    assert data["checks"]["crit"]["version"] == "9.9"
    assert data["checks"]["raises"]["reason"] == "error"
    assert "ConnectionError" in data["checks"]["raises"]["error"]
    ietf = body(client.get("/health/?format=health", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    assert "boom" in ietf["checks"]["crit:responseTime"][0]["output"]


def test_health__detail_modes(configure, client: Client) -> None:
    configure(**only_checks({"name": "crit", "check": H + "fail"}), HEALTH_DETAIL="always")
    assert body(client.get("/health/"))["checks"]["crit"]["reason"] == "error"
    configure(
        **only_checks({"name": "crit", "check": H + "fail"}),
        HEALTH_DETAIL="never",
        HEALTH_TOKEN=TOKEN,
    )
    data = body(client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    assert "reason" not in data["checks"]["crit"]


@pytest.mark.django_db(transaction=True)  # the lookup runs on the pool's own connection
def test_health__staff_session_unlocks_detail(configure, client: Client, django_user_model) -> None:
    configure(**only_checks({"name": "crit", "check": H + "fail"}))
    user = django_user_model.objects.create_user("plain", password="pw-plain-123")
    client.force_login(user)
    assert "reason" not in body(client.get("/health/"))["checks"]["crit"]
    staff = django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client.force_login(staff)
    assert body(client.get("/health/"))["checks"]["crit"]["reason"] == "error"


def test_health__hung_check_answers_at_deadline(configure, client: Client) -> None:
    configure(
        **only_checks(H + "ok", {"name": "stuck", "check": H + "hang", "timeout": 0.3}),
        HEALTH_DEADLINE=0.5,
        HEALTH_DETAIL="always",
    )
    started = time.monotonic()
    response = client.get("/health/")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert body(response)["checks"]["stuck"]["reason"] == "timeout"
    assert 0.25 <= elapsed < 0.5, elapsed  # the check's timeout (0.3 s), not the 30 s hang
    # Later polls do not wait for the still-hung probe and start no second one.
    started = time.monotonic()
    for _ in range(20):
        assert client.get("/health/").status_code == 503
    assert time.monotonic() - started < 1.0  # waiting 0.3 s each would take 6 s
    from tests.health import helpers

    assert helpers.calls["hang"] == 1


def test_health__deadline_caps_slow_checks(configure, client: Client) -> None:
    configure(
        **only_checks({"name": "stuck", "check": H + "async_hang", "timeout": 1}),
        HEALTH_DEADLINE=0.4,
    )
    started = time.monotonic()
    assert client.get("/health/").status_code == 503
    assert time.monotonic() - started < 0.6


def test_health__async_and_sync_host_checks(configure, client: Client) -> None:
    configure(**only_checks(H + "ok", H + "async_ok", (H + "slow", {"seconds": 0.01})))
    data = body(client.get("/health/"))
    assert data["status"] == "healthy"
    assert set(data["checks"]) == {"ok", "async_ok", "slow"}


def test_health__broken_settings_answer_503(configure, client: Client) -> None:
    configure(HEALTH_CHECKS=["no.such.module.Check"])
    response = client.get("/health/")
    assert response.status_code == 503
    assert body(response) == {"status": "unhealthy", "checks": {}}


def test_simple__no_dependency_touched(configure, settings, client: Client) -> None:
    """Every dependency is stopped (a port nobody listens on, behind counting proxies) and the
    database is blocked (no django_db mark: any query raises): /health/simple/ still answers
    200 and no connection reaches any dependency."""
    dead = free_port()
    proxies = [FaultProxy(("127.0.0.1", dead)).start() for _ in range(4)]
    try:
        settings.REDIS_URL = f"redis://127.0.0.1:{proxies[0].port}/0"
        settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{proxies[1].port}//"
        configure(
            HEALTH_CACHE_TTL=0,
            HEALTH_DISABLED_CHECKS=["llm", "graph"],
            MCP_SERVER_URL=f"http://127.0.0.1:{proxies[2].port}/mcp",
        )
        for method in ("get", "head"):
            response = getattr(client, method)("/health/simple/", HTTP_HOST="10.1.2.3")
            assert response.status_code == 200
            assert response["Cache-Control"].startswith("no-store")
        assert client.get("/health/simple/").content == b'{"status":"ok"}'
        assert [p.accepted for p in proxies] == [0, 0, 0, 0]
        # The same set-up does reach the dependencies through /health/ (the proxies count).
        assert client.get("/health/").status_code == 503
        assert proxies[0].accepted >= 1 and proxies[1].accepted >= 1
    finally:
        for p in proxies:
            p.close()


def test_middleware__pod_ip_host_only_for_health_paths(configure, client: Client) -> None:
    configure(**only_checks(H + "ok"))
    assert client.get("/health/", HTTP_HOST="10.42.0.17:8000").status_code == 200
    assert client.get("/health", HTTP_HOST="10.42.0.17").status_code == 200  # no slash redirect
    assert client.get("/health/simple/", HTTP_HOST="10.42.0.17").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.42.0.17").status_code == 400


def test_middleware__no_ssl_redirect_session_csrf(configure, settings, client: Client) -> None:
    settings.SECURE_SSL_REDIRECT = True
    configure(**only_checks(H + "ok"))
    response = client.get("/health/")
    assert response.status_code == 200  # not 301 to https
    assert not response.cookies  # no session, no csrftoken
    for header in ("Cache-Control", "Pragma", "Expires"):
        assert header in response
    assert "no-store" in response["Cache-Control"]
    assert client.get("/admin/login/").status_code == 301  # the rest of the site still redirects
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.post("/health/").status_code == 405  # not 403 (CSRF never ran)


def test_middleware__outside_atomic_requests(configure, settings, client: Client) -> None:
    """No DB access is allowed in this test: an ATOMIC_REQUESTS transaction would fail it."""
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = True
    try:
        configure(**only_checks(H + "ok"))
        assert client.get("/health/").status_code == 200
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "health" not in m]
        # Routed through the URLconf instead: the view is non-atomic and csrf-exempt. A new
        # Client: the old one's handler built its middleware chain on its first request.
        routed = Client(enforce_csrf_checks=True)
        assert routed.get("/health/", HTTP_HOST="localhost").status_code == 200
        assert routed.post("/health/", HTTP_HOST="localhost").status_code == 405  # not 403
    finally:
        settings.DATABASES["default"]["ATOMIC_REQUESTS"] = False


def test_specs__graph_by_provider_name_and_overrides() -> None:
    from django.test.utils import override_settings

    from experio_platform.health.specs import build_specs

    platform = {
        "HEALTH_CHECKS": [{"name": "falkordb", "critical": True, "timeout": 0.7}, "redis"],
        "HEALTH_EXTRA_CHECKS": [(H + "slow", {"seconds": 0})],
    }
    with override_settings(EXPERIO_PLATFORM=platform):
        specs = {s.name: s for s in build_specs()}
    assert set(specs) == {"graph", "redis", "slow"}
    assert specs["graph"].critical is True and specs["graph"].timeout == 0.7
    assert specs["slow"].options == {"seconds": 0}
    with override_settings(EXPERIO_PLATFORM={"HEALTH_DISABLED_CHECKS": ["neo4j", "llm"]}):
        assert [s.name for s in build_specs()] == ["postgres", "redis", "rabbitmq", "mcp"]
