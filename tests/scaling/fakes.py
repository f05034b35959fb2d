"""Small local HTTP servers that follow the documented platform APIs (no mocks of our client).

- ``FakeOmnistrate``: the in-instance sidecar API (``GET /resource/{alias}/capacity``,
  ``POST .../capacity/add|remove``) and the public fleet API (``POST /2022-09-01-00/signin``,
  ``.../instance/{id}`` and ``.../add-capacity|remove-capacity`` with a bearer token). Capacity
  changes are asynchronous like the real service: a POST answers 202, the resource turns
  ``STARTING`` and reaches the new capacity after ``settle_reads`` further GETs; a POST while
  an operation is in progress answers 409. ``lose_next_post`` applies the next operation and
  drops the connection without an answer (the "lost response" case).
- ``FakeKubernetes``: ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}
  /{name}/scale`` returning ``autoscaling/v1`` ``Scale`` objects, with ``resourceVersion``
  optimistic concurrency (409 Conflict on a stale version); ``lose_next_patch`` applies the
  next patch and drops the connection without an answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "/2022-09-01-00"


class _Handler(BaseHTTPRequestHandler):
    fake: Any = None

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return None

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _send(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        body = self._body() if method in ("POST", "PATCH", "PUT") else None
        with self.fake.lock:
            self.fake.requests.append(
                {
                    "method": method,
                    "path": self.path,
                    "body": body,
                    "auth": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                }
            )
            result = self.fake.handle(method, self.path, body, self.headers)
        if result is None:  # lost response: the operation was applied, no answer comes back
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._send(*result)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")


class _Server:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[dict[str, Any]] = []
        handler = type("H", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> _Server:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] in ("POST", "PATCH")]

    def handle(self, method: str, path: str, body: Any, headers: Any) -> tuple[int, Any] | None:
        raise NotImplementedError


class FakeOmnistrate(_Server):
    API_KEY = "test-api-key"
    USER = "scaler@experio.example"  # the documented sign-in: e-mail + password
    PASSWORD = "fleet-password-canary"

    def __init__(self, settle_reads: int = 1) -> None:
        super().__init__()
        self.resources: dict[str, dict[str, Any]] = {}
        self.settle_reads = settle_reads
        self.lose_next_post = False
        self.tokens_issued = 0

    def set_replicas(self, alias: str, n: int, status: str = "ACTIVE") -> None:
        with self.lock:
            self.resources[alias] = {"capacity": n, "status": status, "target": None, "reads": 0}

    def replicas(self, alias: str) -> int:
        return self.resources[alias]["capacity"]

    def _settle(self, res: dict[str, Any]) -> None:
        if res["target"] is not None:
            res["reads"] += 1
            if res["reads"] > self.settle_reads:
                res["capacity"], res["target"], res["status"] = res["target"], None, "ACTIVE"

    def _change(self, alias: str, delta: int) -> tuple[int, Any] | None:
        res = self.resources.get(alias)
        if res is None:
            return 404, {"message": f"resource {alias} not found"}
        if res["target"] is not None:
            return 409, {"message": "another operation is in progress"}
        res["target"] = max(0, res["capacity"] + delta)
        res["reads"] = 0
        res["status"] = "STARTING"
        if self.lose_next_post:
            self.lose_next_post = False
            return None
        return 202, {"instanceId": "inst-1", "resourceId": f"r-{alias}", "resourceAlias": alias}

    def handle(self, method: str, path: str, body: Any, headers: Any) -> tuple[int, Any] | None:
        m = re.fullmatch(r"/resource/([^/]+)/capacity(?:/(add|remove))?", path)
        if m:
            alias, verb = m.groups()
            if method == "GET" and verb is None:
                res = self.resources.get(alias)
                if res is None:
                    return 404, {"message": "not found"}
                self._settle(res)
                return 200, {
                    "instanceId": "inst-1",
                    "resourceId": f"r-{alias}",
                    "resourceAlias": alias,
                    "status": res["status"],
                    "currentCapacity": res["capacity"],
                    "lastObservedTimestamp": "2026-12-04T12:00:00Z",
                }
            if method == "POST" and verb == "add":
                return self._change(alias, int(body["capacityToBeAdded"]))
            if method == "POST" and verb == "remove":
                return self._change(alias, -int(body["capacityToBeRemoved"]))
        if path == f"{API}/signin" and method == "POST":
            by_login = body == {"email": self.USER, "password": self.PASSWORD}
            if not by_login and (body or {}).get("apiKey") != self.API_KEY:
                return 401, {"message": "invalid credentials"}
            self.tokens_issued += 1
            return 200, {"jwtToken": f"jwt-{self.tokens_issued}"}
        m = re.fullmatch(
            API
            + r"/fleet/service/svc-1/environment/env-1/instance/inst-1(?:/(add|remove)-capacity)?",
            path,
        )
        if m:
            if headers.get("Authorization") != f"Bearer jwt-{self.tokens_issued}":
                return 401, {"message": "unauthorized"}
            verb = m.group(1)
            if method == "GET" and verb is None:
                topology = {}
                for alias, res in self.resources.items():
                    self._settle(res)
                    topology[f"r-{alias}"] = {
                        "resourceKey": alias,
                        "resourceName": alias,
                        "nodes": [{"id": f"{alias}-{i}"} for i in range(res["capacity"])],
                    }
                return 200, {"status": "RUNNING", "detailedNetworkTopology": topology}
            alias = (body or {}).get("resourceId", "")
            alias = alias[2:] if alias.startswith("r-") else alias
            if verb == "add":
                return self._change(alias, int(body["capacityToBeAdded"]))
            if verb == "remove":
                return self._change(alias, -int(body["capacityToBeRemoved"]))
        return 404, {"message": f"no route {method} {path}"}


class FakeKubernetes(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[tuple[str, str, str], dict[str, int]] = {}
        self.lose_next_patch = False

    def set_replicas(self, resource: str, n: int) -> None:
        ns, kind, name = self._key(resource)
        with self.lock:
            obj = self.objects.setdefault((ns, kind, name), {"replicas": 0, "rv": 100})
            obj["replicas"] = n
            obj["rv"] += 1

    def replicas(self, resource: str) -> int:
        return self.objects[self._key(resource)]["replicas"]

    @staticmethod
    def _key(resource: str) -> tuple[str, str, str]:
        parts = resource.split("/")
        if len(parts) == 2:
            parts = ["default", *parts]
        ns, kind, name = parts
        return ns, {"deployment": "deployments", "statefulset": "statefulsets"}[kind], name

    def _scale(self, ns: str, kind: str, name: str, obj: dict[str, int]) -> dict[str, Any]:
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": str(obj["rv"])},
            "spec": {"replicas": obj["replicas"]},
            "status": {"replicas": obj["replicas"], "selector": f"app={name}"},
        }

    def handle(self, method: str, path: str, body: Any, headers: Any) -> tuple[int, Any] | None:
        m = re.fullmatch(
            r"/apis/apps/v1/namespaces/([^/]+)/(deployments|statefulsets)/([^/]+)/scale", path
        )
        if not m:
            return 404, {"kind": "Status", "code": 404, "reason": "NotFound"}
        ns, kind, name = m.groups()
        obj = self.objects.get((ns, kind, name))
        if obj is None:
            return 404, {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
                "message": f'{kind}.apps "{name}" not found',
            }
        if method == "GET":
            return 200, self._scale(ns, kind, name, obj)
        if method == "PATCH":
            if headers.get("Content-Type") != "application/merge-patch+json":
                return 415, {"kind": "Status", "code": 415}
            rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
            if rv is not None and rv != str(obj["rv"]):
                return 409, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "Conflict",
                    "code": 409,
                    "message": "the object has been modified; please apply your changes to "
                    "the latest version and try again",
                }
            obj["replicas"] = int(body["spec"]["replicas"])
            obj["rv"] += 1
            if self.lose_next_patch:
                self.lose_next_patch = False
                return None
            return 200, self._scale(ns, kind, name, obj)
        return 405, {"kind": "Status", "code": 405}


@contextmanager
def running(server: _Server) -> Iterator[_Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
