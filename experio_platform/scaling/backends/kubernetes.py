"""Kubernetes: read and patch the ``/scale`` subresource with the official ``kubernetes`` client.

The platform resource is ``deployment/NAME``, ``statefulset/NAME`` or ``NAMESPACE/KIND/NAME``
(a bare ``NAME`` means a Deployment). ``_`` in NAME becomes ``-``, as kompose names the objects it
converts from compose services, so the seeded ``structured_data`` scales
``deployment/structured-data``. The patch carries the ``resourceVersion`` just read, so
a concurrent writer (an HPA, another controller: KEDA#5288) makes the API server answer 409
instead of the two silently overwriting each other.
"""

from __future__ import annotations

import re
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
# Deployment and StatefulSet names are DNS-1123 subdomains (RFC 1123; at most 253 characters,
# apimachinery's IsDNS1123Subdomain).
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_MAX = 253


def _what(resource: str, name: str) -> str:
    # Errors name the object actually asked for when the mapping changed it (a 404 for
    # 'structured_data' must say that 'structured-data' is missing).
    if resource.rsplit("/", 1)[-1] == name:
        return f"{resource} scale"
    return f"{resource} scale (Kubernetes name {name!r})"


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
        if len(parts) != 3 or parts[1].lower() not in _KINDS:
            raise BackendError(
                f"Cannot scale {resource!r}: the kind must be a Deployment or StatefulSet.",
                hint="Use 'deployment/NAME', 'statefulset/NAME' or 'NAMESPACE/KIND/NAME'.",
            )
        ns, kind, name = parts
        # Compose service names may hold '_', Kubernetes names may not: kompose turns
        # structured_data into structured-data, so the seeded resource names work unchanged.
        mapped = name.replace("_", "-")
        if len(mapped) > _DNS1123_MAX or not _DNS1123_SUBDOMAIN.fullmatch(mapped):
            shown = repr(name) if mapped == name else f"{name!r} (as {mapped!r})"
            raise BackendError(
                f"Cannot scale {resource!r}: {shown} is not a valid Kubernetes object name.",
                hint="Kubernetes names are at most 253 lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit ('_' is turned into '-'); set the "
                "row's platform resource to the workload's real name, e.g. "
                "'deployment/structured-data'.",
            )
        return ns, _KINDS[kind.lower()], mapped

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
        scale = self._call(_what(resource, name), func, name, ns)
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
            _what(resource, name),
            func,
            name,
            ns,
            body,
            _content_type="application/merge-patch+json",
        )
        return ScaleResult("applied", f"spec.replicas {current} -> {desired}")
