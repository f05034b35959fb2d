"""The registry of settings-store keys, declared in code.

Each key says where its value comes from (environment variables, ``NAME_FILE`` secret files),
how it is typed and validated, whether it is a secret, and its policy:

* ``ENV_MANAGED``: the environment wins whenever it is set, so a rotated credential reaches the
  store on the next deploy (``seed_config``/``initdb``); the admin shows the key read-only.
* ``SEED_ONCE``: seeded once, then an operator may edit it in the admin; a later environment
  value that disagrees is reported as drift, never written silently.

Hosts add keys with ``EXPERIO_PLATFORM["CONFIG_EXTRA_KEYS"] = ["myproject.config.KEYS", ...]``;
each dotted path names a :class:`ConfigKey` or a list of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from django.utils.module_loading import import_string

from experio_platform.exceptions import ConfigurationError, ExperioPlatformError

Policy = Literal["env", "seed"]
ENV_MANAGED: Policy = "env"
SEED_ONCE: Policy = "seed"
ValueType = type[str] | type[bool] | type[int] | type[float]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigValueError(ExperioPlatformError, ValueError):
    """A value is not valid for its key (the message names the key, never a secret value)."""


class UnknownKeyError(ExperioPlatformError, KeyError):
    """A key is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0] if self.args else ""


@dataclass(frozen=True)
class ConfigKey:
    """One key of the settings store.

    Args:
        name: the key (upper case, unique).
        namespace: a group such as ``graph``, ``llm``, ``platform``; ``--namespace`` selects it.
        type: ``str``, ``bool``, ``int`` or ``float``; values are stored and returned typed.
        default: the value when neither the environment nor an operator set one (may be None).
        env: the environment variables it seeds from, first set wins; each also has a
            ``<VAR>_FILE`` twin naming a file that holds the value (Docker/Kubernetes secrets).
            Defaults to ``(name,)``.
        secret: encrypted at rest, masked everywhere it is shown.
        validator: ``func(value) -> None`` raising ``ValueError`` with a message for the operator.
        help: one sentence for the admin and the docs.
        policy: ``"env"`` (env-managed) or ``"seed"`` (seed-once).
        choices: the allowed values, if the key is an enumeration.
    """

    name: str
    namespace: str
    type: ValueType = str
    default: Any = None
    env: tuple[str, ...] | None = None
    secret: bool = False
    validator: Callable[[Any], None] | None = field(default=None, compare=False)
    help: str = ""
    policy: Policy = SEED_ONCE
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.env is None:
            object.__setattr__(self, "env", (self.name,))
        if self.policy not in (ENV_MANAGED, SEED_ONCE):
            raise ConfigurationError(
                f"ConfigKey {self.name}: policy must be 'env' or 'seed', not {self.policy!r}."
            )

    @property
    def env_managed(self) -> bool:
        return self.policy == ENV_MANAGED

    @property
    def variables(self) -> tuple[str, ...]:
        return self.env or ()

    def parse(self, raw: Any, *, origin: str = "") -> Any:
        """Return ``raw`` (a string from the environment/CLI or an already typed value) typed
        and validated; raise ConfigValueError naming the key (and ``origin``, e.g. the variable).
        """
        where = f" (from {origin})" if origin else ""
        value = raw
        if raw is None:
            value = None
        elif self.type is bool:
            if isinstance(raw, bool):
                value = raw
            elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
                value = raw.strip().lower() in _TRUE
            else:
                raise ConfigValueError(
                    f"{self.name}{where}: expected a boolean, got {self._show(raw)}.",
                    hint="Use true/false (also 1/0, yes/no, on/off).",
                )
        elif self.type in (int, float):
            if isinstance(raw, bool):
                raise ConfigValueError(f"{self.name}{where}: expected a number, got a boolean.")
            if self.type is int and isinstance(raw, float) and not raw.is_integer():
                raise ConfigValueError(f"{self.name}{where}: expected int, got {self._show(raw)}.")
            try:
                value = self.type(raw.strip() if isinstance(raw, str) else raw)
            except (TypeError, ValueError):
                raise ConfigValueError(
                    f"{self.name}{where}: expected {self.type.__name__}, got {self._show(raw)}."
                ) from None
        elif self.type is str and not isinstance(raw, str):
            raise ConfigValueError(f"{self.name}{where}: expected a string.")
        if value is not None and self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ConfigValueError(
                f"{self.name}{where}: unknown value {self._show(value)}; allowed: {allowed}."
            )
        if value is not None and value != "" and self.validator is not None:
            try:
                self.validator(value)
            except (TypeError, ValueError) as exc:
                raise ConfigValueError(f"{self.name}{where}: {exc}") from None
        return value

    def _show(self, raw: Any) -> str:
        return "a secret value (not shown)" if self.secret else repr(raw)

    def from_environ(self, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
        """Return ``(variable, raw value)`` from the first of ``env`` that is set, or None.

        ``VAR`` wins over ``VAR_FILE``; an empty value (or an empty file) counts as unset.
        Trailing newlines of a secret file are dropped (``echo pw > file`` is the common case).
        Raises ConfigValueError when ``VAR_FILE`` names a file that cannot be read.
        """
        environ = os.environ if environ is None else environ
        for var in self.variables:
            value = environ.get(var)
            if value not in (None, ""):
                return var, value
            path = environ.get(f"{var}_FILE")
            if path not in (None, ""):
                try:
                    content = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
                except OSError as exc:
                    raise ConfigValueError(
                        f"{self.name} (from {var}_FILE): cannot read {path}: {exc.strerror}.",
                        hint=f"Mount the secret file or unset {var}_FILE.",
                    ) from None
                if content != "":
                    return f"{var}_FILE", content
        return None


# ---- validators ---------------------------------------------------------------------------


def _scheme_validator(schemes: Iterable[str], what: str) -> Callable[[Any], None]:
    allowed = tuple(schemes)

    def validate(value: Any) -> None:
        parts = urlsplit(str(value))
        if parts.scheme not in allowed:
            raise ValueError(
                f"{what} must start with one of {', '.join(s + '://' for s in allowed)}; "
                f"got scheme {parts.scheme or '(none)'!r}."
            )
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError(f"{what} has no host name.")

    return validate


validate_neo4j_uri = _scheme_validator(
    ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"), "a Neo4j URI"
)
validate_falkor_uri = _scheme_validator(
    ("falkor", "falkors", "redis", "rediss", "unix"), "a FalkorDB URI"
)
validate_http_url = _scheme_validator(("http", "https"), "the URL")


def validate_positive(value: Any) -> None:
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}.")


def validate_api_version(value: Any) -> None:
    # Azure OpenAI versions look like 2024-10-21 or 2024-10-01-preview.
    head = str(value)[:10]
    if len(head) != 10 or head[4] != "-" or head[7] != "-" or not head.replace("-", "").isdigit():
        raise ValueError(f"expected an API version like 2024-10-21, got {value!r}.")


# ---- the built-in keys --------------------------------------------------------------------

BUILTIN_KEYS: tuple[ConfigKey, ...] = (
    # graph
    ConfigKey(
        "GRAPH_PROVIDER",
        "graph",
        default="neo4j",
        choices=("neo4j", "falkordb"),
        policy=ENV_MANAGED,
        help="Which graph database the server uses.",
    ),
    ConfigKey(
        "NEO4J_URI",
        "graph",
        default="bolt://localhost:7687",
        validator=validate_neo4j_uri,
        policy=ENV_MANAGED,
        help="Neo4j connection URI (neo4j://, neo4j+s://, bolt://, ...).",
    ),
    ConfigKey("NEO4J_USER", "graph", default="neo4j", policy=ENV_MANAGED, help="Neo4j user."),
    ConfigKey(
        "NEO4J_PASSWORD",
        "graph",
        default="",
        secret=True,
        policy=ENV_MANAGED,
        help="Neo4j password.",
    ),
    ConfigKey(
        "NEO4J_DATABASE", "graph", default="neo4j", policy=ENV_MANAGED, help="Neo4j database."
    ),
    ConfigKey(
        "FALKOR_URI",
        "graph",
        default="falkor://localhost:6379",
        validator=validate_falkor_uri,
        policy=ENV_MANAGED,
        help="FalkorDB URI (falkor://, falkors://, redis://, rediss://, unix://).",
    ),
    ConfigKey(
        "FALKOR_PASSWORD",
        "graph",
        default="",
        secret=True,
        policy=ENV_MANAGED,
        help="FalkorDB password.",
    ),
    ConfigKey(
        "FALKOR_GRAPH",
        "graph",
        default="experio",
        policy=ENV_MANAGED,
        help="Name of the FalkorDB graph the server reads and writes.",
    ),
    # llm
    ConfigKey(
        "USE_AZURE_OPENAI",
        "llm",
        type=bool,
        default=False,
        policy=ENV_MANAGED,
        help="Use Azure OpenAI for LLM calls.",
    ),
    ConfigKey(
        "AZURE_OPENAI_ENDPOINT",
        "llm",
        default=None,
        validator=validate_http_url,
        policy=ENV_MANAGED,
        help="Azure OpenAI endpoint, https://<resource>.openai.azure.com/.",
    ),
    ConfigKey(
        "AZURE_OPENAI_API_KEY",
        "llm",
        default="",
        secret=True,
        policy=ENV_MANAGED,
        help="Azure OpenAI API key.",
    ),
    ConfigKey(
        "AZURE_OPENAI_API_VERSION",
        "llm",
        default="2024-10-21",
        validator=validate_api_version,
        help="Azure OpenAI API version.",
    ),
    ConfigKey(
        "USE_GOOGLE_GENAI",
        "llm",
        type=bool,
        default=False,
        policy=ENV_MANAGED,
        help="Use Google GenAI (Gemini) for LLM calls.",
    ),
    ConfigKey(
        "GOOGLE_API_KEY",
        "llm",
        default="",
        secret=True,
        policy=ENV_MANAGED,
        help="Google GenAI API key.",
    ),
    ConfigKey(
        "GOOGLE_GENAI_BASE_URL",
        "llm",
        default=None,
        validator=validate_http_url,
        help="Base URL of the Google GenAI API (empty: the public endpoint).",
    ),
    # mcp
    ConfigKey(
        "MCP_SERVER_URL",
        "mcp",
        default=None,
        validator=validate_http_url,
        policy=ENV_MANAGED,
        help="URL of the MCP server (streamable HTTP, e.g. http://mcp:8000/mcp).",
    ),
    # platform tunables an operator may edit in the admin
    ConfigKey(
        "LLM_REQUEST_TIMEOUT",
        "platform",
        type=float,
        default=60.0,
        validator=validate_positive,
        help="Seconds an LLM request may take before it is abandoned.",
    ),
    ConfigKey(
        "GRAPH_QUERY_LIMIT",
        "platform",
        type=int,
        default=1000,
        validator=validate_positive,
        help="Largest number of rows a graph query returns to the UI.",
    ),
    ConfigKey(
        "MAX_UPLOAD_MB",
        "platform",
        type=int,
        default=50,
        validator=validate_positive,
        help="Largest upload accepted, in megabytes.",
    ),
    ConfigKey(
        "MAINTENANCE_MODE",
        "platform",
        type=bool,
        default=False,
        help="Show the maintenance banner and refuse new work.",
    ),
)


# ---- the registry: built-in keys plus the host's ------------------------------------------

_cache: dict[str, ConfigKey] | None = None


def _host_keys() -> list[ConfigKey]:
    from experio_platform.conf import platform_settings

    found: list[ConfigKey] = []
    for path in platform_settings.CONFIG_EXTRA_KEYS or []:
        if isinstance(path, ConfigKey):
            found.append(path)
            continue
        try:
            obj = import_string(path)
        except ImportError as exc:
            raise ConfigurationError(
                f"EXPERIO_PLATFORM['CONFIG_EXTRA_KEYS'] names {path!r}, which cannot be "
                f"imported: {exc}",
                hint="Fix the dotted path to a ConfigKey or a list of them.",
            ) from exc
        items = [obj] if isinstance(obj, ConfigKey) else list(obj)
        for item in items:
            if not isinstance(item, ConfigKey):
                raise ConfigurationError(
                    f"EXPERIO_PLATFORM['CONFIG_EXTRA_KEYS'] entry {path!r} holds "
                    f"{type(item).__name__}, not a ConfigKey.",
                    hint="Declare host keys with experio_platform.config.ConfigKey(...).",
                )
            found.append(item)
    return found


def get_registry() -> dict[str, ConfigKey]:
    """Return every known key by name (built-in first, then the host's, in order)."""
    global _cache
    if _cache is None:
        keys: dict[str, ConfigKey] = {}
        for key in (*BUILTIN_KEYS, *_host_keys()):
            if key.name in keys:
                raise ConfigurationError(
                    f"Settings-store key {key.name} is declared twice.",
                    hint="Rename the host key in EXPERIO_PLATFORM['CONFIG_EXTRA_KEYS'].",
                )
            keys[key.name] = key
        _cache = keys
    return _cache


def get_key(name: str) -> ConfigKey:
    """Return the registry entry of ``name``; raise UnknownKeyError if there is none."""
    try:
        return get_registry()[name]
    except KeyError:
        raise UnknownKeyError(
            f"{name!r} is not a settings-store key.",
            hint="Declare it in EXPERIO_PLATFORM['CONFIG_EXTRA_KEYS'] or fix the spelling.",
        ) from None


def reset_registry() -> None:
    global _cache
    _cache = None


def _register_reload_hook() -> None:
    # Host keys come from EXPERIO_PLATFORM, so a settings change rebuilds the registry.
    from experio_platform.conf import _reload_hooks, on_reload

    if reset_registry not in _reload_hooks:
        on_reload(reset_registry)


_register_reload_hook()
