"""`seed_autoscaling_config` + `run_scaler --once --backend omnistrate` on the project's compose
services: every seeded row finds its platform resource.

Omnistrate cannot be reached from here, so the real Omnistrate backend (httpx) talks to the local
HTTP server of the scaling tests (`tests/scaling/fakes.py`), which follows the documented
in-instance sidecar API (`GET /resource/{alias}/capacity`, 404 for an unknown alias). It knows
exactly the resources the compose file would create: one per compose service, named after it.
RabbitMQ is pointed at a closed port: the rows' queue metrics fail (the decision holds the
count), which keeps this test off the shared broker's unprefixed queue names and does not hide
a resource error (a missing resource is an `error` row, a metric failure a `hold` row).
"""

from __future__ import annotations

import json
import socket
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.scaling.fakes import FakeOmnistrate, running

from .helpers import ROOT, run_compose_config

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def compose_services() -> list[str]:
    """Every service of docker-compose.yaml (all profiles), as the real Compose parser sees it."""
    result = run_compose_config(ROOT / "docker-compose.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr
    return sorted(json.loads(result.stdout)["services"])


def _run_scaler(settings: Any, fake: FakeOmnistrate) -> tuple[int, dict[str, dict[str, Any]]]:
    port = _closed_port()
    settings.EXPERIO_PLATFORM = {
        "OMNISTRATE_SIDECAR_URL": fake.url,
        "RABBITMQ_MANAGEMENT_URL": f"http://guest:guest@127.0.0.1:{port}",
        "SCALER_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}//",
        "SCALER_METRICS_TIMEOUT": 1.0,
        "SCALER_HTTP_TIMEOUT": 5.0,
    }
    call_command("seed_autoscaling_config", stdout=StringIO())
    out = StringIO()
    code = 0
    try:
        call_command(
            "run_scaler", "--once", "--backend", "omnistrate", "--no-lease", "--json", stdout=out
        )
    except CommandError as exc:
        code = exc.returncode
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    return code, {row["key"]: row for row in report["rows"]}


def test_run_scaler__finds_every_seeded_resource_among_compose_services(
    settings: Any, compose_services: list[str]
) -> None:
    with running(FakeOmnistrate()) as fake:
        for name in compose_services:
            fake.set_replicas(name, 0)
        code, rows = _run_scaler(settings, fake)
        posts = fake.posts()
    assert code == 0, rows
    assert len(rows) == 12 and not [k for k, r in rows.items() if r["outcome"] == "error"]
    # keep_alive neo4j and coordinator (min 1) are brought up from 0; the other workers hold (no
    # metrics here), but their platform read worked: their observed count is the fake's.
    assert rows["neo4j"]["outcome"] == "accepted" and rows["neo4j"]["desired"] == 1
    assert rows["coordinator"]["outcome"] == "accepted" and rows["coordinator"]["desired"] == 1
    assert all(rows[key]["observed"] == 0 for key in ("parser", "ingestion_v2", "cleanup"))
    assert sorted(p["path"] for p in posts) == [
        "/resource/coordinator/capacity/add",
        "/resource/neo4j/capacity/add",
    ]


def test_run_scaler__reports_a_resource_compose_does_not_have(
    settings: Any, compose_services: list[str]
) -> None:
    """The same run against the previous compose file's worker services (`worker`,
    `worker-ingest` instead of one service per queue) fails with an error per job worker: the
    failure this area's round 3 fixed, so the test above can fail."""
    previous = [n for n in compose_services if n not in {"reader", "parser", "cleanup"}]
    with running(FakeOmnistrate()) as fake:
        for name in previous:
            fake.set_replicas(name, 0)
        code, rows = _run_scaler(settings, fake)
    assert code == 1
    assert sorted(k for k, r in rows.items() if r["outcome"] == "error") == [
        "cleanup",
        "parser",
        "reader",
    ]
