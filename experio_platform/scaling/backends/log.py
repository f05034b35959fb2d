"""The ``log`` backend: records what it would do and remembers the count in memory (from the
rows' last observed count after a restart)."""

from __future__ import annotations

import logging

from experio_platform.scaling.backends.base import PlatformState, ScaleResult, ScalingBackend

logger = logging.getLogger(__name__)


class LogBackend(ScalingBackend):
    """No platform: ``scale`` logs and updates an in-process count so passes converge.

    A resource this process has no count for starts at the ``observed_replicas`` last recorded
    on its ``ServiceConfiguration`` row (0 when none), so a restarted ``run_scaler --backend log``
    continues from what the rows say instead of from 0.

    Args:
        replicas: starting counts per resource (they win over the rows).
    """

    name = "log"

    def __init__(self, replicas: dict[str, int] | None = None) -> None:
        self.replicas: dict[str, int] = dict(replicas or {})
        self.calls: list[tuple[str, int, int]] = []

    def read(self, resource: str) -> PlatformState:
        """Return the in-process count, else the row's last observed count, else 0.

        A database error propagates as such: the reconciler already handles those per row
        (drops the broken connection, retries next pass).
        """
        if resource not in self.replicas:
            self.replicas[resource] = self._last_observed(resource)
        return PlatformState(self.replicas[resource], "ACTIVE")

    def scale(self, resource: str, current: int, desired: int) -> ScaleResult:
        logger.info("log backend: would scale %s from %s to %s", resource, current, desired)
        self.calls.append((resource, current, desired))
        self.replicas[resource] = desired
        return ScaleResult("applied", f"logged {current} -> {desired}")

    @staticmethod
    def _last_observed(resource: str) -> int:
        # Imported here: the backends package is importable without a configured Django.
        from experio_platform.scaling.models import ServiceConfiguration

        observed = (
            ServiceConfiguration.objects.filter(platform_resource=resource)
            .values_list("observed_replicas", flat=True)
            .first()
        )
        return max(0, observed or 0)
