"""System checks of the health settings (ids experio_platform.E010-E029 / W010-W029).

No unbounded I/O: ``manage.py check``, ``migrate`` and ``runserver`` run these before anything
else, also when the database is down. The settings-store keys the checks need (the LLM flags
and keys, MCP_SERVER_URL) are read ONCE, in a daemon thread, for at most
``STORE_READ_TIMEOUT`` seconds; when the store cannot be read in that time (closed port, a
server that accepts and never answers, no table yet before ``migrate``) they come from
``CONFIG_OVERRIDES`` or the keys' defaults instead, and nobody waits for the stuck read.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core import checks

from experio_platform.conf import SETTINGS_NAME, platform_settings
from experio_platform.exceptions import ConfigurationError
from experio_platform.health.base import HealthCheck

logger = logging.getLogger("experio_platform.health")

MIDDLEWARE_PATH = "experio_platform.health.middleware.HealthCheckMiddleware"
DETAIL_MODES = ("authorized", "always", "never")
# The settings-store keys the health system checks read (through checks.config_value).
STORE_KEYS = (
    "USE_AZURE_OPENAI",
    "USE_GOOGLE_GENAI",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "GOOGLE_API_KEY",
    "MCP_SERVER_URL",
)
# Seconds the system checks give the settings store; a healthy store answers in milliseconds.
STORE_READ_TIMEOUT = 1.0


def _id(kind: str, number: int) -> str:
    return f"experio_platform.{kind}{number:03d}"


def read_store(keys: tuple[str, ...], timeout: float) -> dict[str, Any] | None:
    """Return ``{key: config.get(key)}``, or None if the store is not readable in ``timeout``.

    The read runs in a daemon thread that the caller never joins: a database that accepts and
    never answers holds that thread (until libpq's own timeout, if any), not ``manage.py``.
    Inside a transaction (tests, ``atomic``) the read stays on the caller's connection, the
    only one that sees the transaction's rows.
    """
    from django.db import connections, transaction

    from experio_platform import config

    def read() -> dict[str, Any]:
        return {key: config.get(key) for key in keys}

    atomic = [c.alias for c in connections.all(initialized_only=True) if c.in_atomic_block]
    if atomic:
        try:
            # A savepoint: a failed read (no table yet) must not break the caller's transaction.
            with transaction.atomic(using=atomic[0]):
                return read()
        except Exception:  # the store is not readable (no table yet, no database access)
            logger.debug("settings store unreadable for the health system checks", exc_info=True)
            return None
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["values"] = read()
        except Exception as exc:  # reported below as "unreadable"
            box["error"] = exc
        finally:
            for conn in connections.all(initialized_only=True):
                conn.close()

    thread = threading.Thread(target=run, name="experio-health-syscheck-store", daemon=True)
    thread.start()
    thread.join(timeout)
    if "values" not in box:
        logger.debug(
            "settings store not readable within %.1f s for the health system checks (%s); "
            "using CONFIG_OVERRIDES and defaults",
            timeout,
            box.get("error", "no answer"),
        )
        return None
    return dict(box["values"])


def _store_snapshot() -> dict[str, Any]:
    """The STORE_KEYS values: from the store if readable quickly, else overrides/defaults."""
    from experio_platform.health.checks import offline_value

    values = read_store(STORE_KEYS, STORE_READ_TIMEOUT)
    return values if values is not None else {key: offline_value(key) for key in STORE_KEYS}


def check_health_numbers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E010: a timing setting is not a positive number; E011: deadline >= LB timeout."""
    errors: list[checks.CheckMessage] = []
    values: dict[str, float] = {}
    for key, minimum in (
        ("HEALTH_CHECK_TIMEOUT", 0.0),
        ("HEALTH_DEADLINE", 0.0),
        ("HEALTH_LB_TIMEOUT", 0.0),
        ("HEALTH_CACHE_TTL", -1e-9),
        ("HEALTH_MAX_WORKERS", 0.0),
        ("LLM_REFRESH_INTERVAL", -1e-9),
        ("LLM_TIMEOUT", 0.0),
    ):
        raw = getattr(platform_settings, key)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = float("nan")
        if not value > minimum:
            errors.append(
                checks.Error(
                    f"{SETTINGS_NAME}[{key!r}] must be a number > {max(minimum, 0):g}, "
                    f"not {raw!r}.",
                    hint="Set it in seconds (HEALTH_MAX_WORKERS: a count of threads).",
                    id=_id("E", 10),
                )
            )
        values[key] = value
    deadline, lb = values["HEALTH_DEADLINE"], values["HEALTH_LB_TIMEOUT"]
    if deadline == deadline and lb == lb and deadline >= lb:  # both numbers (nan != nan)
        errors.append(
            checks.Error(
                f"HEALTH_DEADLINE ({deadline:g} s) is not below HEALTH_LB_TIMEOUT ({lb:g} s): "
                "the load balancer would give up before /health/ answers.",
                hint="Lower HEALTH_DEADLINE (default 2.5) or set HEALTH_LB_TIMEOUT to your "
                "load balancer's real timeout (ALB default 5 s; kubelet timeoutSeconds).",
                id=_id("E", 11),
            )
        )
    return errors


def check_health_options(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E012: HEALTH_DETAIL invalid; E013: HEALTH_PATHS invalid; W013/W014: middleware place."""
    from django.conf import settings

    found: list[checks.CheckMessage] = []
    if platform_settings.HEALTH_DETAIL not in DETAIL_MODES:
        found.append(
            checks.Error(
                f"HEALTH_DETAIL is {platform_settings.HEALTH_DETAIL!r}.",
                hint=f"Use one of: {', '.join(DETAIL_MODES)}.",
                id=_id("E", 12),
            )
        )
    paths = platform_settings.HEALTH_PATHS
    if not isinstance(paths, dict) or any(
        not str(p).startswith("/") or kind not in ("health", "simple") for p, kind in paths.items()
    ):
        found.append(
            checks.Error(
                f"HEALTH_PATHS must map absolute paths to 'health' or 'simple', not {paths!r}.",
                hint='Example: {"/health/": "health", "/health/simple/": "simple"}.',
                id=_id("E", 13),
            )
        )
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        found.append(
            checks.Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: load-balancer probes then go through "
                "ALLOWED_HOSTS, SSL redirect, sessions and CSRF.",
                hint="Add it as the first entry of MIDDLEWARE.",
                id=_id("W", 13),
            )
        )
    elif middleware[0] != MIDDLEWARE_PATH:
        found.append(
            checks.Warning(
                f"{MIDDLEWARE_PATH} is not the first entry of MIDDLEWARE; the middleware before "
                "it still runs for health probes (and may reject the pod IP or redirect).",
                hint="Move it to the top of MIDDLEWARE.",
                id=_id("W", 14),
            )
        )
    token = platform_settings.HEALTH_TOKEN
    if token and len(str(token)) < 16:
        found.append(
            checks.Warning(
                "HEALTH_TOKEN is shorter than 16 characters.",
                hint="Use a long random value, e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'.",
                id=_id("W", 15),
            )
        )
    return found


def check_health_checks(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E014 invalid check list/path; E015 both LLM flags on; W010 both off; W011 unconfigured;
    W012 a check timeout at or above the deadline; W016 more checks than pool workers."""
    from experio_platform.health.checks import store_view
    from experio_platform.health.specs import build_specs

    try:
        specs = build_specs()
    except ConfigurationError as exc:
        return [checks.Error(exc.message, hint=exc.hint, id=_id("E", 14))]
    with store_view(_store_snapshot()):  # from here on, config_value() does no I/O
        return _check_specs(specs)


def _check_specs(specs: list[Any]) -> list[checks.CheckMessage]:
    from experio_platform.health.checks import as_bool, config_value

    found: list[checks.CheckMessage] = []
    names = {spec.name for spec in specs}
    if "llm" in names and not platform_settings.LLM_PROVIDER:
        azure = as_bool(config_value("USE_AZURE_OPENAI"))
        google = as_bool(config_value("USE_GOOGLE_GENAI"))
        if azure and google:
            found.append(
                checks.Error(
                    "USE_AZURE_OPENAI and USE_GOOGLE_GENAI are both on; the llm health check "
                    "reports unhealthy (misconfigured).",
                    hint="Turn one of them off.",
                    id=_id("E", 15),
                )
            )
        elif not azure and not google:
            found.append(
                checks.Warning(
                    "Neither USE_AZURE_OPENAI nor USE_GOOGLE_GENAI is on: the llm health check "
                    "is not enabled.",
                    hint="Turn one on, or add 'llm' to HEALTH_DISABLED_CHECKS to silence this.",
                    id=_id("W", 10),
                )
            )
    for spec in specs:
        problem = None
        if isinstance(spec.check, HealthCheck):
            try:
                problem = spec.check.configuration_problem()
            except ConfigurationError as exc:
                problem = exc.message
            except Exception:  # e.g. a host check's own lookup failed: no verdict
                problem = None
        if problem:
            found.append(
                checks.Warning(
                    f"The health check {spec.name!r} is enabled but not configured: {problem}; "
                    "it reports unhealthy ('not configured').",
                    hint=f"Configure it, or add {spec.name!r} to HEALTH_DISABLED_CHECKS.",
                    id=_id("W", 11),
                )
            )
        deadline = float(platform_settings.HEALTH_DEADLINE or 0)
        if spec.refresh_interval <= 0 and deadline and spec.timeout >= deadline:
            found.append(
                checks.Warning(
                    f"The health check {spec.name!r} has a timeout ({spec.timeout:g} s) at or "
                    f"above HEALTH_DEADLINE ({deadline:g} s): the deadline cuts it first.",
                    hint="Give the check a timeout below HEALTH_DEADLINE.",
                    id=_id("W", 12),
                )
            )
    if len(specs) > int(platform_settings.HEALTH_MAX_WORKERS or 0) > 0:
        found.append(
            checks.Warning(
                f"{len(specs)} health checks share {platform_settings.HEALTH_MAX_WORKERS} pool "
                "workers: some probes queue and may time out.",
                hint="Raise HEALTH_MAX_WORKERS to at least the number of checks.",
                id=_id("W", 16),
            )
        )
    return found


CHECKS = [check_health_numbers, check_health_options, check_health_checks]
