"""Turn the HEALTH_* settings into the list of :class:`CheckSpec` the runner executes.

An item of ``HEALTH_CHECKS`` / ``HEALTH_EXTRA_CHECKS`` is one of:

* a built-in name: ``"redis"``;
* a dotted path, optionally with kwargs (the django-health-check 4.x shape):
  ``"myapp.health.Search"`` or ``("myapp.health.Search", {"index": "main"})``;
* a dict ``{"name", "check", "critical", "timeout", "options"}``; a dict that names a
  built-in and has no ``"check"`` overrides that built-in's fields
  (``{"name": "redis", "critical": False}``).
"""

from __future__ import annotations

import inspect
from typing import Any

from django.utils.module_loading import import_string

from experio_platform.conf import platform_settings
from experio_platform.exceptions import ConfigurationError
from experio_platform.health.base import CheckSpec, HealthCheck
from experio_platform.health.checks import BUILTIN_CHECKS

_ITEM_KEYS = {"name", "check", "critical", "timeout", "options"}
# Operators know the graph check by the provider's name (checks.neo4j.status).
_GRAPH_NAMES = {"neo4j": "graph", "falkordb": "graph"}


def _normalise(item: Any, setting: str) -> dict[str, Any]:
    if isinstance(item, str) and item in _GRAPH_NAMES:
        item = _GRAPH_NAMES[item]
    if isinstance(item, dict) and "check" not in item and item.get("name") in _GRAPH_NAMES:
        item = {**item, "name": _GRAPH_NAMES[item["name"]]}
    if isinstance(item, str):
        if item in BUILTIN_CHECKS:
            return {"name": item, **BUILTIN_CHECKS[item]}
        return {"name": item.rsplit(".", 1)[-1].lower(), "check": item}
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], dict):
        path = str(item[0])
        return {"name": path.rsplit(".", 1)[-1].lower(), "check": path, "options": item[1]}
    if isinstance(item, dict):
        unknown = set(item) - _ITEM_KEYS
        if unknown:
            raise ConfigurationError(
                f"{setting} item {item.get('name', item)!r} has unknown key(s): "
                f"{', '.join(sorted(unknown))}.",
                hint=f"Allowed keys: {', '.join(sorted(_ITEM_KEYS))}.",
            )
        name = item.get("name")
        if not name and isinstance(item.get("check"), str):
            name = item["check"].rsplit(".", 1)[-1].lower()
        if not name:
            raise ConfigurationError(
                f"{setting} has an item without a name or check: {item!r}.",
                hint='Give it a "name" and a "check" dotted path.',
            )
        base = dict(BUILTIN_CHECKS.get(name, {})) if "check" not in item else {}
        merged = {**base, **item, "name": name}
        if "check" not in merged:
            raise ConfigurationError(
                f"{setting} item {name!r} is not a built-in check and has no 'check' path.",
                hint=f"Built-ins: {', '.join(BUILTIN_CHECKS)}; others need a dotted path.",
            )
        return merged
    raise ConfigurationError(
        f"{setting} has an item of unsupported type {type(item).__name__}: {item!r}.",
        hint="Use a built-in name, a dotted path, (path, kwargs) or a dict.",
    )


def _instantiate(name: str, path: Any, options: dict[str, Any], setting: str) -> Any:
    if not isinstance(path, str):
        target = path  # already a callable or class (tests, programmatic hosts)
    else:
        try:
            target = import_string(path)
        except ImportError as exc:
            raise ConfigurationError(
                f"{setting} check {name!r} names {path!r}, which cannot be imported: {exc}",
                hint="Fix the dotted path or install the package that provides it.",
            ) from exc
    if inspect.isclass(target):
        if not issubclass(target, HealthCheck):
            raise ConfigurationError(
                f"{setting} check {name!r}: {path!r} is a class but not a HealthCheck.",
                hint="Subclass experio_platform.health.base.HealthCheck or name a function.",
            )
        try:
            return target(**options)
        except TypeError as exc:
            raise ConfigurationError(
                f"{setting} check {name!r}: {path!r} does not accept the options given: {exc}",
                hint="Fix the check's options (kwargs).",
            ) from exc
    if not callable(target):
        raise ConfigurationError(
            f"{setting} check {name!r}: {path!r} is not callable.",
            hint="Name a HealthCheck subclass or a function check(timeout, **options).",
        )
    return target


def build_specs() -> list[CheckSpec]:
    """Return the configured checks, built-ins first; raise ConfigurationError if invalid."""
    s = platform_settings
    items = list(BUILTIN_CHECKS) if s.HEALTH_CHECKS is None else list(s.HEALTH_CHECKS)
    raw = [_normalise(i, "HEALTH_CHECKS") for i in items]
    raw += [_normalise(i, "HEALTH_EXTRA_CHECKS") for i in s.HEALTH_EXTRA_CHECKS or []]
    disabled = set(s.HEALTH_DISABLED_CHECKS or [])
    specs: list[CheckSpec] = []
    seen: set[str] = set()
    for item in raw:
        name = item["name"]
        if name in disabled or (name == "graph" and disabled & {"neo4j", "falkordb"}):
            continue
        if name in seen:
            raise ConfigurationError(
                f"The health check name {name!r} is configured twice.",
                hint="Give each check in HEALTH_CHECKS / HEALTH_EXTRA_CHECKS a unique name.",
            )
        seen.add(name)
        options = dict(item.get("options") or {})
        check = _instantiate(name, item["check"], options, "HEALTH_CHECKS")
        default_timeout = s.LLM_TIMEOUT if name == "llm" else s.HEALTH_CHECK_TIMEOUT
        timeout = float(item.get("timeout") or default_timeout)
        refresh = float(s.LLM_REFRESH_INTERVAL) if name == "llm" else 0.0
        specs.append(
            CheckSpec(
                name=name,
                check=check,
                critical=bool(item.get("critical", True)),
                timeout=timeout,
                options={} if isinstance(check, HealthCheck) else options,
                component_type=getattr(check, "component_type", "component"),
                refresh_interval=refresh,
            )
        )
    return specs
