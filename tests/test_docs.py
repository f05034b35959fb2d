"""The docs that are generated from code are current, and every setting is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from experio_platform.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_doc__is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_configuration_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_configuration_doc__lists_every_key_with_a_meaning() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for key in DEFAULTS:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None, f"{key} is missing from docs/configuration.md"
        assert not row.rstrip().endswith("|  |"), f"{key} has no comment in conf.py"
