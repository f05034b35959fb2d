"""A canary password set for every dependency never appears in any response, format or detail
level, in any captured log line, or in check_health's output: with everything up and with
everything down (the error paths are where drivers put connection strings)."""

from __future__ import annotations

import logging
from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tests.health.conftest import CANARY, graph_available
from tests.support.http import StubServer, json_route
from tests.support.mcp import MCPServerProcess
from tests.support.net import free_port, port_open

pytestmark = pytest.mark.django_db
TOKEN = "health-token-0123456789abcdef"
FORMS = (CANARY, quote(CANARY), CANARY.lower())


def assert_clean(text: str, where: str) -> None:
    for form in FORMS:
        assert form not in text, f"canary leaked in {where}"


def sweep(client: Client, where: str) -> list[dict]:
    bodies = []
    for fmt in ("json", "health", "openmetrics"):
        for auth in ({}, {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}):
            response = client.get(f"/health/?format={fmt}", **auth)
            assert_clean(response.content.decode(), f"{where} {fmt} {auth or 'anonymous'}")
            assert_clean(str(response.headers), f"{where} headers")
            if fmt == "json":
                bodies.append(response.json())
    return bodies


def command_output() -> str:
    out, err = StringIO(), StringIO()
    for args in (["--json"], []):
        try:
            call_command("check_health", *args, stdout=out, stderr=err)
        except CommandError as exc:
            err.write(str(exc))
    return out.getvalue() + err.getvalue()


def test_canary__never_disclosed(
    configure, settings, caplog, private_redis, private_postgres, private_rabbitmq, private_falkordb
) -> None:
    caplog.set_level(logging.DEBUG)
    mcp = MCPServerProcess().start()
    azure = StubServer({"/openai/models": json_route(401, {"error": f"bad key {CANARY}"})}).start()
    try:
        settings.REDIS_URL = private_redis.url
        settings.CELERY_BROKER_URL = private_rabbitmq.url
        checks = [
            {"name": "postgres", "options": {"database": private_postgres.database()}},
            "redis",
            "rabbitmq",
            "llm",
            "mcp",
            {
                "name": "leaky",
                "check": "tests.health.helpers.leaky",
                "critical": False,
                "options": {
                    "url": f"redis://:{CANARY}@10.0.0.5:6379/0",
                    "password": CANARY,
                },
            },
        ]
        overrides = {
            "USE_AZURE_OPENAI": "true",
            "AZURE_OPENAI_ENDPOINT": azure.url,
            "AZURE_OPENAI_API_KEY": CANARY,
            "MCP_SERVER_URL": f"http://health:{CANARY}@127.0.0.1:{mcp.port}/mcp",
        }
        if graph_available():
            checks.append("graph")
            overrides.update(
                GRAPH_PROVIDER="falkordb",
                FALKOR_URI=f"redis://127.0.0.1:{private_falkordb.port}",
                FALKOR_PASSWORD=CANARY,
            )
        configure(
            HEALTH_CHECKS=checks,
            HEALTH_TOKEN=TOKEN,
            HEALTH_CACHE_TTL=0,
            HEALTH_CHECK_TIMEOUT=0.8,
            HEALTH_DEADLINE=1.5,
            CONFIG_OVERRIDES=overrides,
        )
        client = Client()
        (up, *_) = sweep(client, "all up")
        assert up["checks"]["postgres"]["status"] == "healthy", up
        assert up["checks"]["redis"]["status"] == "healthy", up
        assert up["checks"]["rabbitmq"]["status"] == "healthy", up
        assert up["checks"]["mcp"]["status"] == "healthy", up
        assert up["checks"]["llm"]["status"] == "unhealthy"  # the stub refuses the key
        assert_clean(command_output(), "check_health, all up")

        # Everything down: wrong or unreachable endpoints carrying the canary in their URLs.
        private_redis.stop()
        private_postgres.stop()
        settings.CELERY_BROKER_URL = f"amqp://health:{CANARY}@127.0.0.1:{free_port()}//"
        mcp.stop()
        if graph_available():
            private_falkordb.stop()
        (down, *_) = sweep(client, "all down")
        assert all(c["status"] == "unhealthy" for c in down["checks"].values()), down
        assert_clean(command_output(), "check_health, all down")
        # The detail did reach the authorized caller, minus the secret.
        detail = client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
        assert "***" in detail["checks"]["leaky"]["error"]
        assert "10.0.0.5" in detail["checks"]["leaky"]["error"]
    finally:
        azure.close()
        mcp.stop()
        private_redis.start() if private_redis.proc.poll() is not None else None
        if not port_open(private_postgres.port):  # a failure above may come before its stop
            private_postgres.start()
        if graph_available() and private_falkordb.proc.poll() is not None:
            private_falkordb.start()
    assert caplog.records, "the failures were logged"
    assert_clean(caplog.text, "captured logs")
    for record in caplog.records:
        assert_clean(record.getMessage(), "a log record")
