"""Scaling backends behind one interface (``base.ScalingBackend``)."""

from __future__ import annotations

from experio_platform.exceptions import ConfigurationError
from experio_platform.scaling.backends.base import (
    BackendBusy,
    BackendError,
    OutcomeUnknown,
    PlatformState,
    ScaleResult,
    ScalingBackend,
)

BACKENDS = ("omnistrate", "kubernetes", "log")

__all__ = [
    "BACKENDS",
    "BackendBusy",
    "BackendError",
    "OutcomeUnknown",
    "PlatformState",
    "ScaleResult",
    "ScalingBackend",
    "build_backend",
]


def build_backend(name: str | None = None) -> ScalingBackend:
    """Return a new backend named ``name`` (default ``SCALER_BACKEND``), configured from settings.

    Raises:
        ConfigurationError: unknown name.
    """
    from experio_platform.conf import platform_settings
    from experio_platform.scaling.settings import setting

    name = name or platform_settings.SCALER_BACKEND
    timeout = float(platform_settings.SCALER_HTTP_TIMEOUT)
    if name == "log":
        from experio_platform.scaling.backends.log import LogBackend

        return LogBackend()
    if name == "omnistrate":
        from experio_platform.scaling.backends.omnistrate import OmnistrateBackend

        return OmnistrateBackend(
            sidecar_url=setting("OMNISTRATE_SIDECAR_URL"),
            api_url=setting("OMNISTRATE_API_URL"),
            api_key=setting("OMNISTRATE_API_KEY"),
            user=setting("OMNISTRATE_USER"),
            password=setting("OMNISTRATE_PASSWORD"),
            service_id=setting("OMNISTRATE_SERVICE_ID"),
            environment_id=setting("OMNISTRATE_ENVIRONMENT_ID"),
            instance_id=setting("OMNISTRATE_INSTANCE_ID"),
            timeout=timeout,
        )
    if name == "kubernetes":
        from experio_platform.scaling.backends.kubernetes import KubernetesBackend

        return KubernetesBackend(
            namespace=platform_settings.SCALER_KUBERNETES_NAMESPACE,
            host=setting("SCALER_KUBERNETES_HOST"),
            timeout=timeout,
        )
    raise ConfigurationError(
        f"Unknown scaler backend {name!r}.",
        hint=f"Use one of: {', '.join(BACKENDS)} (SCALER_BACKEND or run_scaler --backend).",
    )
