"""graph_status without its settings store: a clear exit 1, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_graph_status__settings_store_unreachable_exits_1_with_the_fix() -> None:
    env = dict(os.environ, DB_HOST="127.0.0.1", DB_PORT=str(_closed_port()), DB_NAME="none")
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL="")
    result = subprocess.run(
        [sys.executable, "manage.py", "graph_status", "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "settings store (PostgreSQL) cannot be read" in result.stderr
    assert "DATABASE_URL / DB_*" in result.stderr
