"""``python -m experio_platform.deploy TAG ...`` (same as ``experio-omni-compose``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
