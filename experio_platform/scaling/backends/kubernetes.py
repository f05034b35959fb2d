"""Kubernetes: read and patch the ``/scale`` subresource with the official ``kubernetes`` client.

The platform resource is ``deployment/NAME``, ``statefulset/NAME`` or ``NAMESPACE/KIND/NAME``
(a bare ``NAME`` means a Deployment). The patch carries the ``resourceVersion`` just read, so
a concurrent writer (an HPA, another controller: KEDA#5288) makes the API server answer 409
instead of the two silently overwriting each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experio_platform.scaling.backends.base import (
    BackendBusy,
    BackendError,
    PlatformState,
    ScaleResult,
    ScalingBackend,
)

_KINDS = {
    "deployment": "deployment",
    "deployments": "deployment",
    "deploy": "deployment",
    "statefulset": "stateful_set",
    "statefulsets": "stateful_set",
    "sts": "stateful_set",
}
_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass
class KubernetesBackend(ScalingBackend):
    """Args:
    namespace: default namespace (None: the pod's own, else "default").
    host: API server URL used without credentials (tests); None loads in-cluster config, else
        the kubeconfig.
    """

    namespace: str | None = None
    host: str | None = None
    timeout: float = 10.0
    name: str = "kubernetes"
    delta: bool = False
    _api: Any = field(default=None, init=False, repr=False)
    _versions: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def _apps(self) -> Any:
        if self._api is None:
            from kubernetes import client, config

            if self.host:
                conf = client.Configuration()
                conf.host = self.host
                api_client = client.ApiClient(conf)
            else:
                try:
                    config.load_incluster_config()
                except config.ConfigException:
                    config.load_kube_config()
                api_client = client.ApiClient()
            self._api = client.AppsV1Api(api_client)
        return self._api

    def prepare(self) -> None:
        try:
            self._apps()
        except Exception as exc:
            raise BackendError(
                f"Cannot configure the Kubernetes client: {exc}",
                hint="Run in a pod with a service account, provide a kubeconfig, or set "
                "SCALER_KUBERNETES_HOST.",
            ) from exc

    def close(self) -> None:
        if self._api is not None:
            self._api.api_client.close()
            self._api = None

    def _parse(self, resource: str) -> tuple[str, str, str]:
        parts = resource.split("/")
        if len(parts) == 1:
            parts = ["deployment", *parts]
        if len(parts) == 2:
            ns = self.namespace or (
                _SA_NAMESPACE.read_text().strip() if _SA_NAMESPACE.exists() else "default"
            )
            parts = [ns, *parts]
        ns, kind, name = parts
        if kind.lower() not in _KINDS or len(parts) != 3:
            raise BackendError(
                f"Cannot scale {resource!r}: the kind must be a Deployment or StatefulSet.",
                hint="Use 'deployment/NAME', 'statefulset/NAME' or 'NAMESPACE/KIND/NAME'.",
            )
        return ns, _KINDS[kind.lower()], name

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return func(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            if exc.status == 409:
                raise BackendBusy(
                    f"{what} changed since it was read (409): another writer is scaling it.",
                    hint="Make sure no HPA/KEDA also scales this workload; retried next pass.",
                ) from exc
            if exc.status == 404:
                raise BackendError(
                    f"{what} does not exist (404).", hint="Check the row's platform resource."
                ) from exc
            if exc.status in (401, 403):
                raise BackendError(
                    f"Kubernetes refused {what} ({exc.status}).",
                    hint="Grant the service account get/patch on deployments/scale and "
                    "statefulsets/scale.",
                ) from exc
            raise BackendError(f"Kubernetes answered {exc.status} for {what}.") from exc
        except Exception as exc:  # urllib3 connection errors and the like
            raise BackendError(f"Kubernetes API unreachable for {what}: {exc!r}") from exc

    def read(self, resource: str) -> PlatformState:
        ns, kind, name = self._parse(resource)
        func = getattr(self._apps(), f"read_namespaced_{kind}_scale")
        scale = self._call(f"{resource} scale", func, name, ns)
        self._versions[resource] = scale.metadata.resource_version
        replicas = scale.spec.replicas or 0
        observed = scale.status.replicas if scale.status else None
        status = "ACTIVE" if observed == replicas else "SCALING"
        return PlatformState(int(replicas), status)

    def scale(self, resource: str, current: int, desired: int) -> ScaleResult:
        ns, kind, name = self._parse(resource)
        body: dict[str, Any] = {"spec": {"replicas": desired}}
        version = self._versions.pop(resource, None)
        if version:
            body["metadata"] = {"resourceVersion": version}
        func = getattr(self._apps(), f"patch_namespaced_{kind}_scale")
        self._call(
            f"{resource} scale",
            func,
            name,
            ns,
            body,
            _content_type="application/merge-patch+json",
        )
        return ScaleResult("applied", f"spec.replicas {current} -> {desired}")
