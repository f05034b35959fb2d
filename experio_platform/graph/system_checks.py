"""System checks of the graph concern (static configuration only; no network I/O).

E050 GRAPH_PROVIDERS is not a dict of name -> dotted path, or a path cannot be imported.
E051 GRAPH_PROVIDER (host override) names a provider that GRAPH_PROVIDERS does not list.
E052 a graph timeout/size setting is not a positive number, or an enum setting is unknown.
W050 a configured provider's driver package is not installed (that provider cannot connect).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from experio_platform.conf import platform_settings

_POSITIVE = (
    "GRAPH_CONNECT_TIMEOUT",
    "GRAPH_QUERY_TIMEOUT",
    "GRAPH_RETRY_ATTEMPTS",
    "GRAPH_BATCH_SIZE",
    "GRAPH_MAX_POOL_SIZE",
    "GRAPH_OUTBOX_MAX_ATTEMPTS",
    "GRAPH_OUTBOX_BATCH",
)
_CHOICES = {
    "GRAPH_FALKOR_TRANSACTIONS": ("refuse", "passthrough"),
    "GRAPH_NEO4J_DIALECT": ("neo4j", "neo4j-compat"),
}


def check_graph_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E050/E051/W050: the provider registry, the selected provider, driver packages."""
    errors: list[checks.CheckMessage] = []
    providers = platform_settings.GRAPH_PROVIDERS
    if not isinstance(providers, dict) or not providers:
        return [
            checks.Error(
                "EXPERIO_PLATFORM['GRAPH_PROVIDERS'] must be a non-empty dict of "
                "name -> dotted path of a BaseGraphProvider subclass.",
                hint="Remove the key to use the built-in neo4j and falkordb providers.",
                id="experio_platform.E050",
            )
        ]
    for name, path in providers.items():
        try:
            cls = import_string(path)
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f"GRAPH_PROVIDERS[{name!r}] = {path!r} cannot be imported: {exc}",
                    hint="Fix the dotted path.",
                    id="experio_platform.E050",
                )
            )
            continue
        module = getattr(cls, "driver_module", "")
        if module and importlib.util.find_spec(module) is None:
            errors.append(
                checks.Warning(
                    f"The {name} graph provider needs the '{module}' package, which is not "
                    "installed: selecting it makes every graph call fail.",
                    hint=f"pip install 'experio-platform[{module}]' (or the 'graph' extra).",
                    id="experio_platform.W050",
                )
            )
    overrides = platform_settings.CONFIG_OVERRIDES or {}
    selected = overrides.get("GRAPH_PROVIDER")
    if selected and str(selected).strip().lower() not in providers:
        errors.append(
            checks.Error(
                f"GRAPH_PROVIDER is {selected!r}, not one of {sorted(providers)}.",
                hint="Set GRAPH_PROVIDER to 'neo4j' or 'falkordb'.",
                id="experio_platform.E051",
            )
        )
    return errors


def check_graph_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E052: numeric graph settings are positive; enum settings hold a known value."""
    errors: list[checks.CheckMessage] = []
    for key in _POSITIVE:
        value = getattr(platform_settings, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(
                checks.Error(
                    f"EXPERIO_PLATFORM[{key!r}] must be a positive number, not {value!r}.",
                    hint="Remove the key to use the default.",
                    id="experio_platform.E052",
                )
            )
    for key, allowed in _CHOICES.items():
        value = getattr(platform_settings, key)
        if value not in allowed:
            errors.append(
                checks.Error(
                    f"EXPERIO_PLATFORM[{key!r}] is {value!r}, not one of {', '.join(allowed)}.",
                    hint="Remove the key to use the default.",
                    id="experio_platform.E052",
                )
            )
    return errors


CHECKS = [check_graph_providers, check_graph_settings]
