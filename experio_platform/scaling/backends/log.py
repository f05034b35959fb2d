"""The ``log`` backend: records what it would do and remembers the count in memory (from the
rows' last observed count after a restart)."""

from __future__ import annotations

import logging

from experio_platform.scaling.backends.base import PlatformState, ScaleResult, ScalingBackend

logger = logging.getLogger(__name__)


class LogBackend(ScalingBackend):
    """No platform: ``scale`` logs and updates an in-process count so passes converge.

    A resource this process has no count for starts at the ``observed_replicas`` last recorded
    on its ``ServiceConfiguration`` row, or at the last count this backend applied to it when
    that is newer (0 when neither), so a restarted ``run_scaler --backend log`` (``--once``
    included) continues from what the database says instead of from 0.

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
        """The newer of the row's observed count and the last count this backend applied.

        The reconciler records on the row what it read *before* scaling, so after a pass that
        applied 0 -> 2 the row still says 0; the applied decision says 2. Without it every
        ``run_scaler --once --backend log`` would apply the same change again.
        """
        # Imported here: the backends package is importable without a configured Django.
        from experio_platform.scaling.models import ScalingDecision, ServiceConfiguration

        row = (
            ServiceConfiguration.objects.filter(platform_resource=resource)
            .values("pk", "observed_replicas", "observed_at")
            .first()
        )
        if row is None:
            return 0
        count, seen_at = row["observed_replicas"] or 0, row["observed_at"]
        applied = (
            ScalingDecision.objects.filter(
                service_id=row["pk"], backend=LogBackend.name, outcome="applied"
            )
            .order_by("-decided_at", "-id")
            .values("desired_replicas", "decided_at")
            .first()
        )
        if applied is not None and (seen_at is None or applied["decided_at"] >= seen_at):
            count = applied["desired_replicas"]
        return max(0, count)
