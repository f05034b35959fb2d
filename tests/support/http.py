"""Small HTTP servers in a thread (stdlib ``http.server``) that stand in for remote APIs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A route answers (status, headers, body) for (method, path, query, headers).
Route = Callable[
    [str, str, dict[str, list[str]], dict[str, str]], tuple[int, dict[str, str], bytes]
]


class StubServer:
    """``routes`` maps a path to a Route; every request is recorded in ``requests``."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0  # seconds to sleep before answering (a slow or hung remote)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                stub.requests.append(
                    {"method": self.command, "path": parts.path, "headers": headers}
                )
                if stub.delay:
                    time.sleep(stub.delay)
                route = stub.routes.get(parts.path)
                extra: dict[str, str]
                if route is None:
                    status, extra, body = 404, {}, b'{"error":"not found"}'
                else:
                    status, extra, body = route(
                        self.command, parts.path, parse_qs(parts.query), headers
                    )
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def json_route(status: int, payload: Any) -> Route:
    def route(method: str, path: str, query: Any, headers: Any) -> tuple[int, dict, bytes]:
        return status, {}, json.dumps(payload).encode()

    return route
