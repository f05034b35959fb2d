"""Serve the health paths before any other middleware runs.

Put ``experio_platform.health.middleware.HealthCheckMiddleware`` FIRST in ``MIDDLEWARE``. For
the paths in ``HEALTH_PATHS`` only, it answers directly, so a load balancer's probe:

* passes with the pod IP as ``Host`` — ``ALLOWED_HOSTS`` is enforced by ``request.get_host()``,
  which CommonMiddleware calls and these views never do;
* is not redirected by ``SECURE_SSL_REDIRECT`` (SecurityMiddleware never sees it);
* loads no session and needs no CSRF token (their middleware never sees it);
* runs outside ``ATOMIC_REQUESTS`` (that wraps views resolved by the handler; this is not one);
* gets no-store cache headers.

Every other path goes down the chain untouched. It is sync and async capable, so under ASGI
the readiness view awaits the probes instead of holding a thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from experio_platform.conf import platform_settings
from experio_platform.health import views


def _route(path: str) -> str | None:
    """Return "health" or "simple" when ``path`` (with or without its trailing slash) is one."""
    paths: dict[str, str] = platform_settings.HEALTH_PATHS or {}
    kind = paths.get(path)
    if kind is None and not path.endswith("/"):
        kind = paths.get(path + "/")
    return kind


class HealthCheckMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        kind = _route(request.path_info)
        if kind == "simple":
            return views.simple_response(request)
        if kind == "health":
            return views.health_response(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        kind = _route(request.path_info)
        if kind == "simple":
            return views.simple_response(request)
        if kind == "health":
            return await views.ahealth_response(request)
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response
