#!/usr/bin/env python3
"""Thin shim kept for the documented call ``scripts/generate_omni_compose.py "$TAG"``.

Everything is done by ``experio_platform.deploy`` (``experio-omni-compose --help``). Without -f/-o
the shim reads and writes next to the repository root, whatever the current folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _with_defaults(argv: list[str]) -> list[str]:
    flags = {arg.split("=", 1)[0] for arg in argv}
    extra: list[str] = []
    if not flags & {"-f", "--file"}:
        extra += ["-f", str(ROOT / "docker-compose.yaml")]
    if not flags & {"-o", "--output"}:
        extra += ["-o", str(ROOT / "docker-compose.omni.yaml")]
    return [*argv, *extra]


if __name__ == "__main__":
    # Works from a plain checkout too (no `pip install -e .`): the package is next to this folder.
    sys.path.insert(0, str(ROOT))
    from experio_platform.deploy import main

    raise SystemExit(main(_with_defaults(sys.argv[1:])))
