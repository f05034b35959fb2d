"""Django system checks (static misconfiguration only; no network I/O).

Ids: ``experio_platform.E0xx`` (errors) and ``experio_platform.W0xx`` (warnings), each with a
hint. Each concern keeps its checks in ``<package>/system_checks.py`` and lists them in
``CHECKS`` there; this module registers them all once, from ``AppConfig.ready``.

Id ranges: E001-E009/W001-W009 general, E010-E029/W010-W029 health, E030-E049/W030-W049
config store, E050-E069/W050-W069 graph, E070-E089/W070-W089 scaling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.core import checks

from experio_platform.conf import DEFAULTS, SETTINGS_NAME, platform_settings
from experio_platform.exceptions import ConfigurationError

_CONCERNS = ("health", "config", "graph", "scaling")
_registered = False


def check_settings_shape(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E001: EXPERIO_PLATFORM is not a dict; E002: it holds keys this version does not know."""
    try:
        unknown = platform_settings.unknown_keys()
    except ConfigurationError as exc:
        return [checks.Error(exc.message, hint=exc.hint, id="experio_platform.E001")]
    if not unknown:
        return []
    known = ", ".join(sorted(DEFAULTS))
    return [
        checks.Error(
            f"{SETTINGS_NAME} has unknown key(s): {', '.join(unknown)}.",
            hint=f"Check the spelling; known keys are: {known}.",
            id="experio_platform.E002",
        )
    ]


def _concern_checks() -> list[Callable[..., list[checks.CheckMessage]]]:
    found: list[Callable[..., list[checks.CheckMessage]]] = []
    for concern in _CONCERNS:
        try:
            module = import_module(f"experio_platform.{concern}.system_checks")
        except ModuleNotFoundError as exc:
            if exc.name != f"experio_platform.{concern}.system_checks":
                raise
            continue
        found.extend(getattr(module, "CHECKS", []))
    return found


def _unless_malformed(
    func: Callable[..., list[checks.CheckMessage]],
) -> Callable[..., list[checks.CheckMessage]]:
    """Skip a concern's check while EXPERIO_PLATFORM itself is malformed: E001 reports that
    once, instead of every concern's check crashing on the same cause."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> list[checks.CheckMessage]:
        try:
            platform_settings.user_settings  # noqa: B018 - raises when not a dict
        except ConfigurationError:
            return []
        return func(*args, **kwargs)

    return wrapper


def register_all() -> None:
    global _registered
    if _registered:
        return
    checks.register(check_settings_shape, "experio_platform")
    for func in _concern_checks():
        checks.register(_unless_malformed(func), "experio_platform")
    _registered = True
