"""Omnistrate: the in-instance sidecar API, or the public fleet API when credentials are set.

Both are delta APIs ("add N" / "remove N", answered 202 Accepted and applied asynchronously),
so this backend is ``delta = True`` and the reconciler keeps one operation in flight per
resource. Sidecar (default ``http://127.0.0.1:49750``)::

    GET  /resource/{alias}/capacity        -> {"currentCapacity": n, "status": "ACTIVE", ...}
    POST /resource/{alias}/capacity/add    {"capacityToBeAdded": n}
    POST /resource/{alias}/capacity/remove {"capacityToBeRemoved": n}

Fleet API (service/environment/instance ids + ``OMNISTRATE_USER``/``OMNISTRATE_PASSWORD``, or
``OMNISTRATE_API_KEY``)::

    POST /2022-09-01-00/signin  {"email": u, "password": p}  -> {"jwtToken": ...}
                                (or {"apiKey": k}; bearer token for the calls below)
    GET  /2022-09-01-00/fleet/service/{s}/environment/{e}/instance/{i}
    POST .../instance/{i}/add-capacity     {"resourceId": r, "capacityToBeAdded": n}
    POST .../instance/{i}/remove-capacity  {"resourceId": r, "capacityToBeRemoved": n}

A lost answer raises ``OutcomeUnknown`` and is never retried here.

Verified how (no Omnistrate account here; tests drive this code against a local HTTP server
that follows these shapes): the sidecar paths, bodies and ``currentCapacity``/``status`` follow
Omnistrate's custom-autoscaling example (omnistrate-community/custom-auto-scaling-example,
which also shows 200 answers: both 200 and 202 are accepted); the fleet paths, the
``resourceId`` + ``capacityToBeAdded``/``capacityToBeRemoved`` bodies, the e-mail/password
sign-in and the replica count as the length of ``detailedNetworkTopology[*].nodes`` (matched by
resource id, ``resourceKey`` or ``resourceName``) follow the generated Go SDK
(omnistrate-oss/omnistrate-sdk-go: InventoryApi, SigninApi, ResourceNetworkTopologyResult).
The API-key sign-in body ``{"apiKey": ...}`` is NOT documented there; prefer the e-mail and
password of a service account until it is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from experio_platform.scaling.backends.base import (
    BackendBusy,
    BackendError,
    OutcomeUnknown,
    PlatformState,
    ScaleResult,
    ScalingBackend,
)

API_VERSION = "2022-09-01-00"


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code == 409:
        raise BackendBusy(
            f"Omnistrate is busy with another operation on {what} (409).",
            hint="The next pass retries once it finishes.",
        )
    if resp.status_code == 404:
        raise BackendError(
            f"Omnistrate does not know {what} (404).",
            hint="Check the row's platform resource (the Omnistrate resource alias/id).",
        )
    if resp.status_code in (401, 403):
        raise BackendError(
            f"Omnistrate refused the credentials for {what} ({resp.status_code}).",
            hint="Check OMNISTRATE_USER/OMNISTRATE_PASSWORD or OMNISTRATE_API_KEY (fleet API), "
            "or the sidecar's identity.",
        )
    if resp.status_code >= 400:
        raise BackendError(f"Omnistrate answered {resp.status_code} for {what}.")


@dataclass
class OmnistrateBackend(ScalingBackend):
    """Talks to the sidecar, or to the fleet API when ``api_key`` and the three ids are set."""

    sidecar_url: str = "http://127.0.0.1:49750"
    api_url: str = "https://api.omnistrate.cloud"
    api_key: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    service_id: str | None = None
    environment_id: str | None = None
    instance_id: str | None = None
    timeout: float = 10.0
    name: str = "omnistrate"
    delta: bool = True
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _token: str | None = field(default=None, init=False, repr=False)

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key or (self.user and self.password))

    @property
    def uses_fleet_api(self) -> bool:
        ids = self.service_id and self.environment_id and self.instance_id
        return bool(ids and self.has_credentials)

    def _signin_body(self) -> dict[str, str]:
        # The documented sign-in (SDK SigninRequest: email + password) wins over the API key.
        if self.user and self.password:
            return {"email": self.user, "password": self.password}
        return {"apiKey": str(self.api_key)}

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- transport ------------------------------------------------------------------------

    def _request(self, method: str, url: str, what: str, json: Any = None) -> httpx.Response:
        headers = {}
        if self.uses_fleet_api:
            headers["Authorization"] = f"Bearer {self._signin()}"
        try:
            resp = self.client.request(method, url, json=json, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the server: safe to report as a plain failure.
            raise BackendError(
                f"Omnistrate is unreachable for {what}: {type(exc).__name__}.",
                hint="Check OMNISTRATE_SIDECAR_URL / OMNISTRATE_API_URL.",
            ) from exc
        except httpx.HTTPError as exc:
            if method == "GET":
                raise BackendError(f"Omnistrate read of {what} failed: {exc!r}") from exc
            raise OutcomeUnknown(
                f"No answer from Omnistrate for {method} {what} ({type(exc).__name__}); "
                "it may have been applied.",
                hint="The reconciler re-reads the capacity before issuing anything else.",
            ) from exc
        if resp.status_code == 401 and self.uses_fleet_api and self._token:
            self._token = None  # expired token: sign in again once
            headers["Authorization"] = f"Bearer {self._signin()}"
            resp = self.client.request(method, url, json=json, headers=headers)
        _check(resp, what)
        return resp

    def _signin(self) -> str:
        if self._token:
            return self._token
        try:
            resp = self.client.post(
                f"{self.api_url.rstrip('/')}/{API_VERSION}/signin", json=self._signin_body()
            )
        except httpx.HTTPError as exc:
            raise BackendError(f"Omnistrate sign-in failed: {type(exc).__name__}") from exc
        _check(resp, "sign-in")
        token = (resp.json() or {}).get("jwtToken")
        if not token:
            raise BackendError("Omnistrate sign-in answered without a jwtToken.")
        self._token = token
        return token

    def _instance_url(self) -> str:
        return (
            f"{self.api_url.rstrip('/')}/{API_VERSION}/fleet/service/{self.service_id}"
            f"/environment/{self.environment_id}/instance/{self.instance_id}"
        )

    # ---- contract ---------------------------------------------------------------------------

    def read(self, resource: str) -> PlatformState:
        if self.uses_fleet_api:
            data = self._request("GET", self._instance_url(), f"instance {self.instance_id}").json()
            topology = data.get("detailedNetworkTopology") or {}
            for rid, res in topology.items():
                if resource in (rid, res.get("resourceKey"), res.get("resourceName")):
                    nodes = res.get("nodes") or []
                    return PlatformState(len(nodes), str(data.get("status") or ""))
            raise BackendError(
                f"Omnistrate instance {self.instance_id} has no resource {resource!r}.",
                hint="Set the row's platform resource to the resource id or key.",
            )
        url = f"{self.sidecar_url.rstrip('/')}/resource/{quote(resource, safe='')}/capacity"
        data = self._request("GET", url, f"resource {resource}").json()
        return PlatformState(int(data.get("currentCapacity") or 0), str(data.get("status") or ""))

    def scale(self, resource: str, current: int, desired: int) -> ScaleResult:
        if desired == current:
            return ScaleResult("applied", "no change")
        add = desired > current
        n = abs(desired - current)
        if self.uses_fleet_api:
            verb = "add-capacity" if add else "remove-capacity"
            url = f"{self._instance_url()}/{verb}"
            body: dict[str, Any] = {"resourceId": resource}
        else:
            verb = "add" if add else "remove"
            base = self.sidecar_url.rstrip("/")
            url = f"{base}/resource/{quote(resource, safe='')}/capacity/{verb}"
            body = {}
        body["capacityToBeAdded" if add else "capacityToBeRemoved"] = n
        resp = self._request("POST", url, f"resource {resource}", json=body)
        outcome = "accepted" if resp.status_code == 202 else "applied"
        return ScaleResult(outcome, f"{'add' if add else 'remove'} {n} ({resp.status_code})")
