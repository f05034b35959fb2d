"""The Postgres-backed settings store (placeholder until the settings issue lands).

Public API: ``get(key)``. Until the store exists, a key resolves to the host override in
``EXPERIO_PLATFORM["CONFIG_OVERRIDES"]`` and otherwise to None.
"""

from __future__ import annotations

from typing import Any


def get(key: str) -> Any:
    """Return the current value of the settings-store key ``key``."""
    from experio_platform.conf import platform_settings

    return (platform_settings.CONFIG_OVERRIDES or {}).get(key)
