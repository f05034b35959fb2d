"""/health/ under real servers: gunicorn sync workers (WSGI) and uvicorn (ASGI).

Each answers within the deadline although one check hangs for 30 s, Redis and PostgreSQL sit
behind a proxy that accepts and never answers, and RabbitMQ's port is closed; later polls do
not wait for the still-hung probe either. The pod IP as Host and SECURE_SSL_REDIRECT do not
affect the health paths (they do affect the rest of the site).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.net import free_port, wait_port, wait_until
from tests.support.proxy import FaultProxy
from tests.support.servers import stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEADLINE = 0.8


@pytest.fixture(scope="module")
def hung_redis() -> Iterator[FaultProxy]:
    # Upstream is irrelevant: in "hang" mode the proxy accepts and never answers.
    with FaultProxy(("127.0.0.1", free_port())) as proxy:
        proxy.mode = "hang"
        yield proxy


def _serve(argv: list[str], port: int, tmp: str, hung: FaultProxy) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))},
        "PYTHONPATH": ROOT,
        "DJANGO_SETTINGS_MODULE": "tests.health.server_settings",
        "SQLITE_PATH": f"{tmp}/db.sqlite3",
        "TEST_HUNG_REDIS_URL": f"redis://127.0.0.1:{hung.port}/0",
        "TEST_HUNG_PG_PORT": str(hung.port),
        "TEST_CLOSED_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}//",
    }
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_port(port, timeout=30)
        # gunicorn's master listens before its worker has loaded Django: wait until a request
        # is really served, so the timed polls below measure /health/, not the worker's boot.
        wait_until(lambda: _serves(port), timeout=30, what="the first response")
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.stderr.read().decode() if proc.stderr else "no output") from None
    return proc


def _serves(port: int) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/health/simple/", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@pytest.fixture(scope="module", params=["gunicorn-sync", "uvicorn"])
def server(request, hung_redis, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    port = free_port()
    tmp = str(tmp_path_factory.mktemp("server"))
    bin_dir = os.path.dirname(sys.executable)
    if request.param == "gunicorn-sync":
        argv = [f"{bin_dir}/gunicorn", "devsite.wsgi:application", "-k", "sync", "-w", "1"]
        argv += ["-b", f"127.0.0.1:{port}", "--timeout", "60"]
    else:
        argv = [f"{bin_dir}/uvicorn", "devsite.asgi:application", "--port", str(port)]
        argv += ["--host", "127.0.0.1", "--log-level", "warning"]
    proc = _serve(argv, port, tmp, hung_redis)
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


def test_server__answers_503_within_deadline_with_hung_checks(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        timings = []
        for _ in range(5):
            started = time.monotonic()
            response = client.get("/health/", headers={"Host": "10.0.0.7", "Accept": "*/*"})
            timings.append(time.monotonic() - started)
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/json"
            checks = response.json()["checks"]
            assert checks["stuck"]["reason"] == "timeout"
            assert checks["redis"]["status"] == "unhealthy"
            assert checks["pg_hung"]["reason"] == "timeout"  # a real driver, still connecting
            assert checks["rabbitmq"]["reason"] == "error"  # closed port: refused at once
            assert checks["postgres"]["status"] == "healthy"  # SQLite
        assert max(timings) <= DEADLINE + 0.1, timings
        assert timings[0] >= 0.45  # the first poll waited for the check timeout (0.5 s) ...
        assert min(timings[1:]) < 0.45  # ... later ones do not wait for the hung probe again


def test_server__lb_friendly_paths(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10, follow_redirects=False) as client:
        simple = client.get("/health/simple/", headers={"Host": "10.0.0.7"})
        assert simple.status_code == 200 and simple.json() == {"status": "ok"}
        assert "no-store" in simple.headers["cache-control"]
        assert "set-cookie" not in simple.headers
        head = client.head("/health/simple/", headers={"Host": "10.0.0.7"})
        assert head.status_code == 200 and head.content == b""
        # The rest of the site still enforces ALLOWED_HOSTS and the SSL redirect.
        assert client.get("/admin/", headers={"Host": "10.0.0.7"}).status_code == 400
        assert client.get("/admin/", headers={"Host": "localhost"}).status_code == 301
