"""The one place every platform setting is read, with its default.

Hosts configure the app with one dict in their Django settings::

    EXPERIO_PLATFORM = {"HEALTH_DEADLINE": 2.0, ...}

and code reads ``platform_settings.HEALTH_DEADLINE``. Values are read lazily (never at import
time) and the cache is dropped on ``setting_changed``, so ``override_settings`` and
pytest-django's ``settings`` fixture just work (the pattern of ``rest_framework.settings``).
Keys listed in ``IMPORT_STRINGS`` hold dotted paths and are resolved with ``import_string``;
an import failure names the setting that held the path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from experio_platform.exceptions import ConfigurationError

SETTINGS_NAME = "EXPERIO_PLATFORM"

# Each concern keeps its keys in its own block; docs/configuration.md documents every key.
DEFAULTS: dict[str, Any] = {
    # ---- health (experio_platform.health; documented in docs/health.md) ---------------------
    # The checks /health/ runs. None: the built-ins postgres, redis, rabbitmq, llm, graph (reported
    # under the provider's name), mcp. Else a list of items: a built-in name, a dotted path,
    # (path, kwargs), or {"name", "check", "critical", "timeout", "options"}; a dict naming a
    # built-in without "check" overrides its fields, e.g. {"name": "redis", "critical": False}.
    "HEALTH_CHECKS": None,
    # Host checks appended to HEALTH_CHECKS (same item shapes), so built-ins need no re-listing.
    "HEALTH_EXTRA_CHECKS": [],
    # Names of checks to leave out (e.g. ["rabbitmq"] on a host without a broker).
    "HEALTH_DISABLED_CHECKS": [],
    "HEALTH_CHECK_TIMEOUT": 1.0,  # seconds, per check (also the driver connect/socket timeout)
    "HEALTH_DEADLINE": 2.5,  # seconds, the whole /health/ answer; unfinished checks: "timeout"
    "HEALTH_LB_TIMEOUT": 5.0,  # the load balancer's timeout; a system check keeps DEADLINE below
    "HEALTH_CACHE_TTL": 2.0,  # seconds a result is served to every poller; 0 disables
    "HEALTH_MAX_WORKERS": 8,  # size of the bounded probe pool (threads per process)
    "HEALTH_DETAIL": "authorized",  # who sees error/reason/version: "authorized"|"always"|"never"
    "HEALTH_TOKEN": None,  # bearer token that unlocks detail (devsite: EXPERIO_HEALTH_TOKEN)
    # Paths the health middleware answers itself (also without the trailing slash) -> endpoint.
    "HEALTH_PATHS": {"/health/": "health", "/health/simple/": "simple"},
    "LLM_PROVIDER": None,  # None: from USE_AZURE_OPENAI / USE_GOOGLE_GENAI; "azure" | "google"
    "LLM_REFRESH_INTERVAL": 60.0,  # seconds an LLM result is served; refreshed in the background
    "LLM_TIMEOUT": 5.0,  # seconds for the LLM listing request (it never blocks a poll once warm)
    "MCP_SERVER_URL": None,  # fallback when the settings store has no MCP_SERVER_URL
    # ---- config store (experio_platform.config) --------------------------------------------
    # Fallback values of settings-store keys that have no row yet (the devsite fills it from the
    # environment); a row in the store always wins. {"NEO4J_URI": "bolt://...", ...}
    "CONFIG_OVERRIDES": {},
    # Fernet keys or `passphrase:<text>` entries (PBKDF2-derived; devsite:
    # EXPERIO_ENCRYPTION_KEYS, comma-separated); the first encrypts, all decrypt; `seed_config
    # --rotate-keys` re-encrypts under the first. Empty: a key derived from SECRET_KEY (dev
    # fallback; system check W030, E030 in production).
    "ENCRYPTION_KEYS": [],
    # Seconds a process serves config.get() from memory before re-checking the version stamp
    # (one query): the bound on how long another process's change stays unseen. 0: every read.
    "CONFIG_CACHE_TTL": 5.0,
    # Dotted paths to host ConfigKey declarations (a ConfigKey or a list of them).
    "CONFIG_EXTRA_KEYS": [],
    # The superuser initdb ensures (password: DJANGO_SUPERUSER_PASSWORD).
    "DEFAULT_ADMIN_EMAIL": "admin@experiolabs.ai",
    # The regular user initdb ensures when PLAYWRIGHT_TEST_USER_PASS is set.
    "DEFAULT_TEST_USER_EMAIL": "playwright@thinknimble.com",
    # ---- graph (experio_platform.graph) -----------------------------------------------------
    # Provider name (the GRAPH_PROVIDER store key) -> dotted path of its BaseGraphProvider class;
    # a host adds a provider here.
    "GRAPH_PROVIDERS": {
        "neo4j": "experio_platform.graph.neo4j.Neo4jProvider",
        "falkordb": "experio_platform.graph.falkordb.FalkorDBProvider",
    },
    "GRAPH_CONNECT_TIMEOUT": 3.0,  # seconds: TCP connect + Bolt handshake / Redis connect
    "GRAPH_QUERY_TIMEOUT": 10.0,  # seconds per query (server-side timeout + socket read bound)
    "GRAPH_RETRY_ATTEMPTS": 3,  # tries of a read / idempotent write on a retryable error
    "GRAPH_RETRY_BASE_DELAY": 0.1,  # seconds; full-jitter exponential backoff base
    "GRAPH_RETRY_MAX_DELAY": 1.0,  # seconds; cap of one backoff sleep
    "GRAPH_BREAKER_COOLDOWN": 5.0,  # seconds calls fail fast after GraphUnavailable; 0 disables
    "GRAPH_BATCH_SIZE": 2000,  # rows per UNWIND chunk in run_batched and graph_migrate
    "GRAPH_MAX_POOL_SIZE": 50,  # connections per provider instance (per process)
    "GRAPH_FALKOR_TRANSACTIONS": "refuse",  # FalkorDB transaction(): "refuse" | "passthrough"
    "GRAPH_NEO4J_DIALECT": "neo4j",  # "neo4j" | "neo4j-compat" (Bolt servers without elementId)
    "GRAPH_OUTBOX_MAX_ATTEMPTS": 5,  # failed replays of one deferred write before it is parked
    "GRAPH_OUTBOX_BATCH": 500,  # deferred writes replayed per graph_replay / task run
    "GRAPH_OUTBOX_KEEP_DAYS": 7,  # applied outbox rows older than this are pruned by replay
    # ---- scaling (experio_platform.scaling) -------------------------------------------------
    # docs/scaling.md documents every key. Keys that default to None fall back to the
    # environment variable of the same name, read at call time (never at import).
    "SCALER_BACKEND": "log",  # "omnistrate" | "kubernetes" | "log"
    "SCALER_INTERVAL": 30.0,  # seconds between reconcile passes (run_scaler --interval)
    "AUTOSCALING_DEFAULTS": None,  # host override of the seeded ServiceConfiguration rows
    "SCALER_LEASE_NAME": "run_scaler",  # one lease row per group of sidecars that must not overlap
    "SCALER_LEASE_TTL": 90.0,  # seconds a leader lease lives unless renewed (> 2 intervals)
    "SCALER_DECISION_RETENTION_DAYS": 14,  # ScalingDecision rows older than this are pruned
    "SCALER_BACKOFF_BASE": 30.0,  # seconds before the first retry of a row after an error
    "SCALER_BACKOFF_MAX": 600.0,  # cap of the exponential backoff per row
    "SCALER_OPERATION_TIMEOUT": 600.0,  # seconds a delta operation may stay unconfirmed
    "SCALER_HTTP_TIMEOUT": 10.0,  # seconds, platform API calls (Omnistrate, Kubernetes)
    "SCALER_METRICS_TIMEOUT": 5.0,  # seconds, RabbitMQ management API / AMQP fallback
    "RABBITMQ_MANAGEMENT_URL": None,  # None: env RABBITMQ_MANAGEMENT_URL
    "SCALER_AMQP_URL": None,  # AMQP fallback; None: env CELERY_BROKER_URL
    "OMNISTRATE_SIDECAR_URL": None,  # None: env, else http://127.0.0.1:49750
    "OMNISTRATE_API_URL": None,  # None: env, else https://api.omnistrate.cloud
    "OMNISTRATE_API_KEY": None,  # None: env; with the ids below selects the fleet API
    "OMNISTRATE_USER": None,  # None: env; e-mail of the fleet API sign-in (wins over the key)
    "OMNISTRATE_PASSWORD": None,  # None: env; its password (a secret: never logged)
    "OMNISTRATE_SERVICE_ID": None,  # None: env
    "OMNISTRATE_ENVIRONMENT_ID": None,  # None: env
    "OMNISTRATE_INSTANCE_ID": None,  # None: env
    "SCALER_KUBERNETES_NAMESPACE": None,  # None: the pod's namespace, else "default"
    "SCALER_KUBERNETES_HOST": None,  # API server URL, no auth (tests); None: in-cluster/kubeconfig
}

# Keys whose values are dotted paths (or containers of them) resolved on access.
IMPORT_STRINGS: frozenset[str] = frozenset()


class PlatformSettings:
    """Lazy accessor over ``settings.EXPERIO_PLATFORM`` merged over ``DEFAULTS``."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults if defaults is not None else DEFAULTS
        self._cached: dict[str, Any] = {}
        self._user: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        if self._user is None:
            from django.conf import settings

            value = getattr(settings, SETTINGS_NAME, None) or {}
            if not isinstance(value, dict):
                raise ConfigurationError(
                    f"settings.{SETTINGS_NAME} must be a dict, not {type(value).__name__}.",
                    hint=f"Set {SETTINGS_NAME} = {{...}} in your Django settings.",
                )
            self._user = value
        return self._user

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Unknown {SETTINGS_NAME} key: {name!r}")
        if name in self._cached:
            return self._cached[name]
        value = self.user_settings.get(name, self.defaults[name])
        if name in IMPORT_STRINGS and value is not None:
            value = _resolve(value, name)
        self._cached[name] = value
        return value

    def unknown_keys(self) -> list[str]:
        return sorted(set(self.user_settings) - set(self.defaults))

    def reload(self) -> None:
        self._cached.clear()
        self._user = None


def _resolve(value: Any, setting: str) -> Any:
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise ConfigurationError(
                f"{SETTINGS_NAME}[{setting!r}] names {value!r}, which cannot be imported: {exc}",
                hint="Fix the dotted path or install the package that provides it.",
            ) from exc
    if isinstance(value, list | tuple):
        return [_resolve(v, setting) for v in value]
    return value


platform_settings = PlatformSettings()

# Listeners that other modules add (e.g. to drop a cached provider) when settings change.
_reload_hooks: list[Callable[[], None]] = []


def on_reload(func: Callable[[], None]) -> Callable[[], None]:
    """Register ``func()`` to be called whenever ``EXPERIO_PLATFORM`` changes."""
    _reload_hooks.append(func)
    return func


def reload_platform_settings(*args: Any, setting: str = "", **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        platform_settings.reload()
        for hook in list(_reload_hooks):
            hook()


setting_changed.connect(reload_platform_settings)
