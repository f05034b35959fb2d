"""``manage.py check_health``: same checks in-process, same JSON, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.health.conftest import shared

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh process, as an operator would (exit code included)."""
    full_env = {**os.environ, "PYTHONPATH": ROOT, **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check_health", "--settings=tests.settings", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def base_env() -> dict[str, str]:
    return {
        "REDIS_URL": shared("REDIS_URL"),
        "CELERY_BROKER_URL": shared("CELERY_BROKER_URL"),
        "EXPERIO_HEALTH_DISABLE": "llm,graph,mcp",
        "DB_NAME": "postgres",  # an existing database of the shared server
    }


def test_command__healthy_json_exit_0(base_env) -> None:
    result = run("--json", **base_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "healthy"
    assert set(data["checks"]) == {"postgres", "redis", "rabbitmq"}
    assert data["checks"]["rabbitmq"]["version"].startswith("RabbitMQ")


def test_command__only_and_unhealthy_exit_1(base_env) -> None:
    env = {**base_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = run("--only", "redis", **env)
    assert result.returncode == 1
    assert result.stdout.startswith("redis ") and "unhealthy" in result.stdout
    assert "postgres" not in result.stdout
    result = run("--only", "postgres,rabbitmq", "--json", **env)
    assert result.returncode == 0
    assert set(json.loads(result.stdout)["checks"]) == {"postgres", "rabbitmq"}


def test_command__misconfigured_exit_2(base_env) -> None:
    result = run("--only", "nosuchcheck", **base_env)
    assert result.returncode == 2 and "Unknown health check" in result.stderr


def test_command__invalid_settings_exit_2(configure) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    configure(HEALTH_CHECKS=["no.such.module.Check"])
    with pytest.raises(CommandError) as caught:
        call_command("check_health")
    assert caught.value.returncode == 2 and "HEALTH_CHECKS" in str(caught.value)
