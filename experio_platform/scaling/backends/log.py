"""The ``log`` backend: records what it would do and remembers the count in memory."""

from __future__ import annotations

import logging

from experio_platform.scaling.backends.base import PlatformState, ScaleResult, ScalingBackend

logger = logging.getLogger(__name__)


class LogBackend(ScalingBackend):
    """No platform: ``scale`` logs and updates an in-process count so passes converge.

    Args:
        replicas: starting counts per resource (default 0 for any resource).
    """

    name = "log"

    def __init__(self, replicas: dict[str, int] | None = None) -> None:
        self.replicas: dict[str, int] = dict(replicas or {})
        self.calls: list[tuple[str, int, int]] = []

    def read(self, resource: str) -> PlatformState:
        return PlatformState(self.replicas.get(resource, 0), "ACTIVE")

    def scale(self, resource: str, current: int, desired: int) -> ScaleResult:
        logger.info("log backend: would scale %s from %s to %s", resource, current, desired)
        self.calls.append((resource, current, desired))
        self.replicas[resource] = desired
        return ScaleResult("applied", f"logged {current} -> {desired}")
