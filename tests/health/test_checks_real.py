"""The built-in checks against real servers: healthy, closed port, hung (accepts, never answers).

Shared services come from .run/test/env.sh; the hung case puts tests.support.proxy.FaultProxy
in "hang" mode in front of the real server. The LLM check talks to a local stdlib HTTP server
that speaks the Azure OpenAI / Google GenAI listing paths (the real endpoints are not reachable
here); the MCP check talks to a real server from the official ``mcp`` SDK.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.health.conftest import graph_available, shared
from tests.support.http import StubServer, json_route
from tests.support.mcp import MCPServerProcess
from tests.support.net import free_port, wait_until
from tests.support.proxy import FaultProxy
from tests.support.servers import PrivateRedis

# Probes run in pool threads; the postgres probe and the settings store (LLM/MCP keys) need
# database access, which pytest-django only grants to marked tests.
pytestmark = pytest.mark.django_db

FAST = {"HEALTH_CHECK_TIMEOUT": 0.5, "HEALTH_DEADLINE": 1.0, "HEALTH_CACHE_TTL": 0}


def get(client: Client, path: str = "/health/") -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get(path)
    return response.status_code, json.loads(response.content), time.monotonic() - started


def hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", int(parts.port or 0)


@pytest.fixture
def detail(configure):  # type: ignore[no-untyped-def]
    def apply(checks: list, **keys):  # type: ignore[no-untyped-def]
        return configure(HEALTH_CHECKS=checks, HEALTH_DETAIL="always", **{**FAST, **keys})

    return apply


# ---- postgres ---------------------------------------------------------------------------------
def test_postgres__healthy_on_default_alias(detail, client: Client) -> None:
    detail(["postgres"])
    code, data, _ = get(client)
    assert code == 200, data
    assert data["checks"]["postgres"]["version"].startswith("PostgreSQL 15")


def test_postgres__closed_port_and_hang(detail, settings, client: Client) -> None:
    db = {**settings.DATABASES["default"], "PORT": str(free_port())}
    detail([{"name": "postgres", "options": {"database": db}}])
    code, data, elapsed = get(client)
    assert code == 503 and data["checks"]["postgres"]["reason"] == "error"
    assert elapsed < 1.0
    upstream = (settings.DATABASES["default"]["HOST"], int(settings.DATABASES["default"]["PORT"]))
    with FaultProxy(upstream) as proxy:
        db = {**settings.DATABASES["default"], "PORT": str(proxy.port)}
        detail([{"name": "postgres", "options": {"database": db}}])
        assert get(client)[0] == 200  # forwarding works
        proxy.mode = "hang"
        code, data, elapsed = get(client)
        assert code == 503 and data["checks"]["postgres"]["reason"] == "timeout"
        assert 0.45 <= elapsed < 0.8, elapsed
        proxy.mode = "forward"


def test_postgres__sqlite(detail, tmp_path, client: Client) -> None:
    db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "x.sqlite3")}
    detail([{"name": "postgres", "options": {"database": db}}])
    code, data, _ = get(client)
    assert code == 200 and data["checks"]["postgres"]["version"].startswith("SQLite")


# ---- redis ------------------------------------------------------------------------------------
def test_redis__healthy_closed_and_hung(detail, settings, client: Client) -> None:
    url = shared("REDIS_URL")
    settings.REDIS_URL = url
    detail(["redis"])
    assert get(client)[0] == 200
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    code, data, elapsed = get(client)
    assert code == 503 and data["checks"]["redis"]["reason"] == "error" and elapsed < 0.5
    with FaultProxy(hostport(url)) as proxy:
        settings.REDIS_URL = f"redis://127.0.0.1:{proxy.port}/0"
        assert get(client)[0] == 200
        proxy.mode = "hang"
        code, data, elapsed = get(client)
        assert code == 503 and data["checks"]["redis"]["reason"] == "timeout"
        assert elapsed < 0.8


def test_redis__not_configured(detail, settings, client: Client) -> None:
    settings.REDIS_URL = None
    detail(["redis"])
    code, data, _ = get(client)
    assert code == 503 and data["checks"]["redis"]["reason"] == "not configured"


# ---- rabbitmq ---------------------------------------------------------------------------------
def test_rabbitmq__healthy_closed_and_hung(detail, settings, client: Client) -> None:
    url = shared("CELERY_BROKER_URL")
    settings.CELERY_BROKER_URL = url
    detail(["rabbitmq"])
    code, data, _ = get(client)
    assert code == 200, data
    assert data["checks"]["rabbitmq"]["version"].startswith("RabbitMQ 3.")
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    code, data, elapsed = get(client)
    assert code == 503 and elapsed < 0.8
    with FaultProxy(hostport(url)) as proxy:
        settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
        assert get(client)[0] == 200
        proxy.mode = "hang"
        code, data, elapsed = get(client)
        assert code == 503 and data["checks"]["rabbitmq"]["reason"] == "timeout"
        assert elapsed < 0.8


# ---- mcp ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mcp_server():  # type: ignore[no-untyped-def]
    server = MCPServerProcess().start()
    yield server
    server.stop()


def test_mcp__initialize_then_ping(detail, client: Client, mcp_server) -> None:
    detail(["mcp"], MCP_SERVER_URL=mcp_server.url, HEALTH_CHECK_TIMEOUT=0.9, HEALTH_DEADLINE=1.5)
    code, data, _ = get(client)
    assert code == 200, data
    assert data["checks"]["mcp"]["status"] == "healthy"
    assert "experio-test-mcp" in data["checks"]["mcp"]["version"]


def test_mcp__down_or_hung_is_degraded(detail, client: Client, mcp_server) -> None:
    detail(["postgres", "mcp"], MCP_SERVER_URL=f"http://127.0.0.1:{free_port()}/mcp")
    detail(
        [{"name": "mcp", "critical": False}, "tests.health.helpers.ok"],
        MCP_SERVER_URL=f"http://127.0.0.1:{free_port()}/mcp",
    )
    code, data, _ = get(client)
    assert code == 200 and data["status"] == "degraded"
    with FaultProxy(("127.0.0.1", mcp_server.port)) as proxy:
        detail(["mcp", "tests.health.helpers.ok"], MCP_SERVER_URL=f"http://{proxy.address}/mcp")
        proxy.mode = "hang"
        code, data, elapsed = get(client)
        assert code == 200 and data["checks"]["mcp"]["reason"] == "timeout" and elapsed < 0.8


def test_mcp__not_configured(detail, client: Client) -> None:
    detail(["mcp"], MCP_SERVER_URL=None, CONFIG_OVERRIDES={})
    _, data, _ = get(client)
    assert data["checks"]["mcp"]["reason"] == "not configured"


# ---- llm ----------------------------------------------------------------------------------------
def azure_stub(status: int = 200) -> StubServer:
    return StubServer({"/openai/models": json_route(status, {"data": [{"id": "gpt-4o"}]})})


def llm_keys(**overrides: str) -> dict:
    return {"CONFIG_OVERRIDES": overrides}


def test_llm__azure_listing_request(detail, client: Client) -> None:
    with azure_stub() as stub:
        detail(
            ["llm"],
            **llm_keys(
                USE_AZURE_OPENAI="true",
                AZURE_OPENAI_ENDPOINT=stub.url + "/",
                AZURE_OPENAI_API_KEY="azure-key-123",
                AZURE_OPENAI_API_VERSION="2024-10-21",
            ),
        )
        code, data, _ = get(client)
        assert code == 200, data
        (request,) = stub.requests
        assert request["method"] == "GET" and request["path"] == "/openai/models"
        assert request["headers"]["api-key"] == "azure-key-123"
        assert all("completion" not in r["path"] for r in stub.requests)


def test_llm__google_listing_request_and_http_error(detail, client: Client) -> None:
    with StubServer({"/v1beta/models": json_route(403, {"error": "denied"})}) as stub:
        detail(
            ["llm"],
            **llm_keys(
                USE_GOOGLE_GENAI="1", GOOGLE_API_KEY="g-key", GOOGLE_GENAI_BASE_URL=stub.url
            ),
        )
        code, data, _ = get(client)
        assert code == 503 and data["checks"]["llm"]["error"] == "google: HTTP 403"
        assert stub.requests[0]["headers"]["x-goog-api-key"] == "g-key"


def test_llm__background_refresh_serves_fresh_result(detail, client: Client) -> None:
    """Once warm, a slow/hung provider never delays a poll: the last result is served while
    younger than LLM_REFRESH_INTERVAL, and the refresh runs in the background."""
    with azure_stub() as stub:
        detail(
            ["llm"],
            LLM_REFRESH_INTERVAL=1.0,
            LLM_TIMEOUT=3.0,
            **llm_keys(
                USE_AZURE_OPENAI=True, AZURE_OPENAI_ENDPOINT=stub.url, AZURE_OPENAI_API_KEY="k"
            ),
        )
        assert get(client)[0] == 200
        stub.delay = 2.0  # the provider turns slow
        time.sleep(0.55)  # past half the interval: the next poll starts a background refresh
        for _ in range(5):
            code, _, elapsed = get(client)
            assert code == 200 and elapsed < 0.5  # far below the 2 s the slow provider takes
        wait_until(lambda: len(stub.requests) == 2, timeout=2, what="the background refresh")
        for _ in range(5):
            assert get(client)[0] == 200
        assert len(stub.requests) == 2  # one refresh in flight, not one per poll


def test_llm__flags(detail, client: Client) -> None:
    detail(["llm", "tests.health.helpers.ok"], **llm_keys(USE_AZURE_OPENAI="false"))
    code, data, _ = get(client)
    assert code == 200 and "llm" not in data["checks"]  # both off: not enabled
    detail(["llm"], **llm_keys(USE_AZURE_OPENAI="true", USE_GOOGLE_GENAI="true"))
    code, data, _ = get(client)
    assert code == 503 and data["checks"]["llm"]["reason"] == "misconfigured"
    detail(["llm"], **llm_keys(USE_AZURE_OPENAI="true"))
    code, data, _ = get(client)
    assert code == 503 and data["checks"]["llm"]["reason"] == "not configured"


# ---- graph ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def falkordb_with_bolt():  # type: ignore[no-untyped-def]
    """A private FalkorDB with its Bolt endpoint (the shared one is busy with other areas)."""
    server = PrivateRedis(bolt=True).start()
    yield server
    server.cleanup()


@pytest.mark.skipif(not graph_available(), reason="experio_platform.graph.get_graph not landed")
@pytest.mark.parametrize(
    ("provider", "uri_key"), [("falkordb", "FALKOR_URI"), ("neo4j", "NEO4J_URI")]
)
def test_graph__reports_under_provider_name(
    detail, client: Client, falkordb_with_bolt, provider, uri_key
):
    if provider == "neo4j":  # the official neo4j driver against FalkorDB's Bolt endpoint
        uri = f"bolt://127.0.0.1:{falkordb_with_bolt.bolt_port}"
    else:
        uri = f"redis://127.0.0.1:{falkordb_with_bolt.port}"
    overrides = {"GRAPH_PROVIDER": provider, uri_key: uri}
    graph_timeouts = {"HEALTH_CHECK_TIMEOUT": 1.0, "HEALTH_DEADLINE": 1.5}
    detail(["graph", "tests.health.helpers.ok"], CONFIG_OVERRIDES=overrides, **graph_timeouts)
    code, data, _ = get(client)
    assert code == 200 and data["checks"][provider]["status"] == "healthy", data
    assert data["checks"][provider]["critical"] is False
    scheme = urlsplit(uri).scheme
    overrides[uri_key] = f"{scheme}://127.0.0.1:{free_port()}"
    detail(["graph", "tests.health.helpers.ok"], CONFIG_OVERRIDES=overrides, **graph_timeouts)
    code, data, elapsed = get(client)
    assert code == 200 and data["status"] == "degraded", data  # non-critical
    assert data["checks"][provider]["status"] == "unhealthy" and elapsed < 1.6


@pytest.mark.skipif(not graph_available(), reason="experio_platform.graph.get_graph not landed")
@pytest.mark.parametrize(
    ("provider", "uri_key", "scheme"),
    [("falkordb", "FALKOR_URI", "redis"), ("neo4j", "NEO4J_URI", "bolt")],
)
def test_graph__cold_first_probe_hangs_still_reported_under_provider_name(
    detail, client: Client, provider, uri_key, scheme
):
    """A fresh runner whose very first graph probe hangs (accepts, never answers)."""
    with FaultProxy(("127.0.0.1", free_port())) as proxy:
        proxy.mode = "hang"
        overrides = {"GRAPH_PROVIDER": provider, uri_key: f"{scheme}://127.0.0.1:{proxy.port}"}
        detail(["graph"], CONFIG_OVERRIDES=overrides)
        code, data, elapsed = get(client)
    assert code == 200 and data["status"] == "degraded", data
    assert set(data["checks"]) == {provider}, data
    assert data["checks"][provider]["reason"] == "timeout" and elapsed < 0.9


@pytest.mark.skipif(not graph_available(), reason="experio_platform.graph.get_graph not landed")
def test_graph__settings_store_hangs_name_from_overrides(detail, client: Client, monkeypatch):
    """The store read that names the provider hangs (a DB hiccup): the response does not wait
    for it and still uses the provider's name (from CONFIG_OVERRIDES, read without I/O)."""
    from experio_platform import config

    stuck = threading.Event()
    real_get = config.get

    def hung_get(key: str):  # type: ignore[no-untyped-def]
        if key == "GRAPH_PROVIDER":
            stuck.wait(5)  # the test's stand-in for a database that accepts and never answers
        return real_get(key)

    monkeypatch.setattr(config, "get", hung_get)
    try:
        detail(["graph"], CONFIG_OVERRIDES={"GRAPH_PROVIDER": "falkordb"})
        code, data, elapsed = get(client)
        assert code == 200 and set(data["checks"]) == {"falkordb"}, data
        assert data["checks"]["falkordb"]["reason"] == "timeout" and elapsed < 0.9
    finally:
        stuck.set()


@pytest.mark.skipif(not graph_available(), reason="experio_platform.graph.get_graph not landed")
def test_dev_profile__healthy(detail, settings, tmp_path, client: Client, private_falkordb):
    """What `make dev` configures: SQLite, one FalkorDB as Redis and graph, no broker/LLM/MCP."""
    settings.REDIS_URL = private_falkordb.url
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "dev.sqlite3")}
    overrides = {
        "GRAPH_PROVIDER": "falkordb",
        "FALKOR_URI": f"redis://127.0.0.1:{private_falkordb.port}",
        "FALKOR_PASSWORD": private_falkordb.password,
    }
    detail(
        [
            {"name": "postgres", "options": {"database": sqlite}},
            *("redis", "rabbitmq", "llm", "graph", "mcp"),
        ],
        HEALTH_DISABLED_CHECKS=["rabbitmq", "llm", "mcp"],
        CONFIG_OVERRIDES=overrides,
        HEALTH_CHECK_TIMEOUT=1.0,
        HEALTH_DEADLINE=1.5,
    )
    code, data, _ = get(client)
    assert code == 200 and data["status"] == "healthy", data
    assert set(data["checks"]) == {"postgres", "redis", "falkordb"}


def test_llm__failure_refreshed_after_one_ttl(detail, client: Client) -> None:
    """A failed LLM result is re-probed (in the background) after one TTL, not after half of
    LLM_REFRESH_INTERVAL, so a recovered provider is back as fast as any other check."""
    answers = [500]

    def route(method, path, query, headers):  # type: ignore[no-untyped-def]
        return answers[-1], {}, b"{}"

    with StubServer({"/openai/models": route}) as stub:
        detail(
            ["llm"],
            HEALTH_CACHE_TTL=0.2,
            LLM_REFRESH_INTERVAL=60.0,
            **llm_keys(
                USE_AZURE_OPENAI="true", AZURE_OPENAI_ENDPOINT=stub.url, AZURE_OPENAI_API_KEY="k"
            ),
        )
        assert get(client)[0] == 503
        answers.append(200)
        wait_until(lambda: get(client)[0] == 200, timeout=2, what="LLM recovery")
        assert len(stub.requests) <= 4
