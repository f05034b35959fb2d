"""Scaling settings read at call time: the ``EXPERIO_PLATFORM`` key, else the environment
variable of the same name, else the documented default (never read at import)."""

from __future__ import annotations

import os
from typing import Any

from experio_platform.conf import platform_settings

_ENV_DEFAULTS: dict[str, str | None] = {
    "RABBITMQ_MANAGEMENT_URL": None,
    "OMNISTRATE_SIDECAR_URL": "http://127.0.0.1:49750",
    "OMNISTRATE_API_URL": "https://api.omnistrate.cloud",
    "OMNISTRATE_API_KEY": None,
    "OMNISTRATE_USER": None,
    "OMNISTRATE_PASSWORD": None,
    "OMNISTRATE_SERVICE_ID": None,
    "OMNISTRATE_ENVIRONMENT_ID": None,
    "OMNISTRATE_INSTANCE_ID": None,
}


def setting(name: str) -> Any:
    """Return ``platform_settings.<name>``, else env ``name``, else its default."""
    value = getattr(platform_settings, name)
    if value not in (None, ""):
        return value
    env = os.environ.get(name)
    if env not in (None, ""):
        return env
    return _ENV_DEFAULTS.get(name)


def amqp_url() -> str | None:
    return platform_settings.SCALER_AMQP_URL or os.environ.get("CELERY_BROKER_URL") or None
