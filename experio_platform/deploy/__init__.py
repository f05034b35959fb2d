"""Deploy tooling: the pinned Omnistrate compose generator (no Django import needed).

``experio-omni-compose TAG`` / ``python -m experio_platform.deploy TAG`` turn docker-compose.yaml
into docker-compose.omni.yaml with every Experio image pinned to ``:sha-<git sha>``
(docs/deploy.md).
"""

from __future__ import annotations

from .cli import main

__all__ = ["main"]
