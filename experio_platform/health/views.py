"""The two endpoints: ``/health/simple/`` (liveness) and ``/health/`` (readiness).

Both are normally served by :class:`~experio_platform.health.middleware.HealthCheckMiddleware`
before any other middleware runs; the views in ``urls.py`` are the same functions for hosts
that route them through their URLconf. Nothing here queries a database on the request path:
the probes run in the runner's pool, and the optional staff-session lookup does too.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from experio_platform.conf import platform_settings
from experio_platform.exceptions import ConfigurationError
from experio_platform.health import formats
from experio_platform.health.runner import Report, get_runner

logger = logging.getLogger("experio_platform.health")

SIMPLE_BODY = b'{"status":"ok"}'
_ALLOWED = ("GET", "HEAD")
# How long /health/ may spend finding out whether a session cookie belongs to staff.
_SESSION_LOOKUP_TIMEOUT = 0.5


def no_store(response: HttpResponse) -> HttpResponse:
    """Mark a health response as never to be cached by a proxy or browser."""
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _method_not_allowed() -> HttpResponse:
    response = HttpResponse(status=405)
    response["Allow"] = ", ".join(_ALLOWED)
    return no_store(response)


def simple_response(request: HttpRequest) -> HttpResponse:
    """Liveness: 200 and a tiny JSON body; touches no dependency."""
    if request.method not in _ALLOWED:
        return _method_not_allowed()
    body = b"" if request.method == "HEAD" else SIMPLE_BODY
    response = HttpResponse(body, content_type=formats.JSON)
    if request.method == "HEAD":
        response["Content-Length"] = str(len(SIMPLE_BODY))
    return no_store(response)


def choose_format(request: HttpRequest) -> str:
    """``?format=`` wins; then ``Accept``; JSON otherwise (also for ``*/*`` and text/html)."""
    fmt = (request.GET.get("format") or "").lower()
    if fmt in ("openmetrics", "prometheus", "metrics"):
        return "openmetrics"
    if fmt in ("health", "health+json", "ietf"):
        return "health"
    if fmt == "json":
        return "json"
    accept = request.META.get("HTTP_ACCEPT", "")
    if "application/health+json" in accept:
        return "health"
    if "application/openmetrics-text" in accept:
        return "openmetrics"
    return "json"


def _bearer_ok(request: HttpRequest) -> bool:
    token = platform_settings.HEALTH_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not token or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode(), str(token).encode())


def _session_key(request: HttpRequest) -> str | None:
    from django.conf import settings

    if "django.contrib.sessions" not in settings.INSTALLED_APPS:
        return None
    return request.COOKIES.get(settings.SESSION_COOKIE_NAME) or None


def _is_staff_session(session_key: str) -> bool:
    """Load the session and its user (runs in the pool: it may query the database)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import get_user

    try:
        # A bare request carrying only the session: the probe thread never sees the real one.
        probe_request = HttpRequest()
        probe_request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user = get_user(probe_request)  # verifies the session auth hash
        return bool(user.is_active and user.is_staff)
    finally:
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close()


def _detail_mode() -> str:
    return str(platform_settings.HEALTH_DETAIL or "authorized")


def _detail_decision(request: HttpRequest) -> bool | str:
    """True/False when settled without I/O; else the session key that must be looked up."""
    mode = _detail_mode()
    if mode in ("always", "never"):
        return mode == "always"
    if _bearer_ok(request):
        return True
    return _session_key(request) or False


def detail_allowed(request: HttpRequest) -> bool:
    """May this caller see error text, reasons and versions?"""
    decision = _detail_decision(request)
    if isinstance(decision, bool):
        return decision
    try:
        lookup = get_runner().submit(lambda: _is_staff_session(decision))
        return bool(lookup.result(_SESSION_LOOKUP_TIMEOUT))
    except Exception:  # a slow or broken session store means "not staff"
        return False


async def adetail_allowed(request: HttpRequest) -> bool:
    """The same, awaiting the session lookup without blocking the event loop."""
    decision = _detail_decision(request)
    if isinstance(decision, bool):
        return decision
    try:
        lookup = asyncio.wrap_future(get_runner().submit(lambda: _is_staff_session(decision)))
        return bool(await asyncio.wait_for(lookup, _SESSION_LOOKUP_TIMEOUT))
    except Exception:
        return False


_RENDER: dict[str, tuple[Callable[..., str], str]] = {
    "json": (formats.render_json, formats.JSON),
    "health": (formats.render_health_json, formats.HEALTH_JSON),
    "openmetrics": (formats.render_openmetrics, formats.OPENMETRICS),
}


def render(request: HttpRequest, report: Report, *, detail: bool) -> HttpResponse:
    """Build the response for ``report`` in the format the caller asked for."""
    fmt = choose_format(request)
    func, content_type = _RENDER[fmt]
    # OpenMetrics is for scrapers: the status is in the samples, the scrape itself succeeds.
    status = 200 if fmt == "openmetrics" else report.http_status
    body = "" if request.method == "HEAD" else func(report, detail=detail)
    response = no_store(HttpResponse(body, status=status, content_type=content_type))
    # A 503 every few seconds from every LB node would flood django.request's error log; the
    # runner already logs each check's failure once, when it starts failing.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _broken(request: HttpRequest, exc: ConfigurationError) -> HttpResponse:
    logger.error("/health/ cannot run its checks: %s", exc)
    return render(request, Report(status="unhealthy", results=[]), detail=False)


def health_response(request: HttpRequest) -> HttpResponse:
    """Readiness (WSGI / sync): run or reuse the checks, bounded by HEALTH_DEADLINE."""
    if request.method not in _ALLOWED:
        return _method_not_allowed()
    try:
        runner = get_runner()
    except ConfigurationError as exc:
        return _broken(request, exc)
    report = runner.collect(deadline=float(platform_settings.HEALTH_DEADLINE))
    return render(request, report, detail=detail_allowed(request))


async def ahealth_response(request: HttpRequest) -> HttpResponse:
    """Readiness (ASGI): the same, awaiting the probes without blocking the event loop."""
    if request.method not in _ALLOWED:
        return _method_not_allowed()
    try:
        runner = get_runner()
    except ConfigurationError as exc:
        return _broken(request, exc)
    detail_task = asyncio.ensure_future(adetail_allowed(request))
    report = await runner.acollect(deadline=float(platform_settings.HEALTH_DEADLINE))
    return render(request, report, detail=await detail_task)


def _plain_view(func: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    from django.db import transaction

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return func(request)

    view.__name__ = func.__name__
    view.__doc__ = func.__doc__
    # Routed through the URLconf (no middleware): still no CSRF and no ATOMIC_REQUESTS.
    return transaction.non_atomic_requests(csrf_exempt(view))


health = _plain_view(health_response)
simple = _plain_view(simple_response)
