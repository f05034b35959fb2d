"""One way for the scaling tests to make a service row."""

from __future__ import annotations

from typing import Any

from experio_platform.scaling.models import ServiceConfiguration


def service(key: str = "parser", **kw: Any) -> ServiceConfiguration:
    """Create a ServiceConfiguration row; platform resource and queue default to the key."""
    kw.setdefault("platform_resource", key)
    kw.setdefault("queues", [key])
    return ServiceConfiguration.objects.create(key=key, **kw)
