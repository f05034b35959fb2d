"""Deploy tooling: the pinned Omnistrate compose generator (no Django import needed)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experio-omni-compose`` (placeholder until the deploy issue lands)."""
    raise SystemExit("experio-omni-compose is not implemented yet")
