"""The built-in checks: postgres, redis, rabbitmq, llm, the active graph DB, mcp.

Each probe opens its own short-lived connection with driver-level connect and socket timeouts
and closes it, so a broken connection is never reused and no pool thread keeps one open.
Libraries: psycopg/sqlite through Django's backend, redis-py, pika, httpx.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import json
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

from experio_platform.health.base import (
    REASON_ERROR,
    REASON_MISCONFIGURED,
    HealthCheck,
    NotConfigured,
    Probe,
)

# The default Azure OpenAI data-plane API version for the models listing.
AZURE_DEFAULT_API_VERSION = "2024-10-21"
GOOGLE_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"


# Settings-store values a caller already read (system checks: one bounded read up front). While
# set, config_value() answers from it and never touches the database.
_store_view: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "experio_health_store_view", default=None
)


def config_value(key: str) -> Any:
    """Read a settings-store key (the store may hit the database: only call it in probes).

    Inside :func:`store_view` the value comes from that mapping (or, for a key it lacks, from
    :func:`offline_value`) without any I/O.
    """
    view = _store_view.get()
    if view is not None:
        return view[key] if key in view else offline_value(key)
    from experio_platform import config

    return config.get(key)


def offline_value(key: str) -> Any:
    """Return ``key`` as the store would without its rows: CONFIG_OVERRIDES, else the default.

    No I/O: for paths that must not wait on the database (system checks, naming a check).
    """
    from experio_platform.conf import platform_settings

    try:
        overrides = platform_settings.CONFIG_OVERRIDES or {}
    except Exception:  # a broken EXPERIO_PLATFORM is reported by the system checks
        overrides = {}
    raw = overrides.get(key) if isinstance(overrides, Mapping) else None
    try:
        from experio_platform.config.registry import get_key

        entry = get_key(key)
    except Exception:  # an unknown key: the override as given
        return raw
    if raw in (None, ""):
        return entry.default
    try:
        return entry.parse(raw, origin=f"CONFIG_OVERRIDES[{key!r}]")
    except Exception:  # an invalid override is the config system checks' to report
        return raw


@contextlib.contextmanager
def store_view(values: Mapping[str, Any]) -> Iterator[None]:
    """Make :func:`config_value` answer from ``values`` (no I/O) inside the block."""
    token = _store_view.set(values)
    try:
        yield
    finally:
        _store_view.reset(token)


def as_bool(value: Any) -> bool:
    """Normalise a flag that may arrive as a string ("true", "0") or a typed value."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """Return ``url`` without ``user:password@`` and the pair, if any.

    httpx logs every request URL at INFO; credentials must travel in a header instead.
    """
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=netloc)), auth


def _django_setting(name: str) -> Any:
    from django.conf import settings

    return getattr(settings, name, None)


class Postgres(HealthCheck):
    """``SELECT 1`` on the database alias (default ``default``), on a fresh connection.

    Why a dedicated connection instead of ``connections[alias]``: the probe runs in a pool
    thread, where Django's per-thread connection would outlive the probe (no request_finished
    there), could be reused after it broke, and cannot take a 1 s connect timeout without
    changing the host's settings. A copy of the alias's settings with the timeouts added gives
    a connection that is opened, used once and closed. Works on SQLite too (``make dev``).
    """

    component_type = "datastore"

    def __init__(
        self, alias: str = "default", database: dict[str, Any] | None = None, **options: Any
    ) -> None:
        super().__init__(alias=alias, **options)
        self.alias = alias
        # An explicit DATABASES-style entry (a database the host does not route to, tests).
        self.database = database

    def _settings(self, timeout: float) -> dict[str, Any]:
        from django.db import connections

        if self.database is not None:
            settings_dict = copy.deepcopy(connections.settings["default"])
            settings_dict["OPTIONS"] = {}
            settings_dict.update(copy.deepcopy(self.database))
        else:
            settings_dict = copy.deepcopy(connections.settings[self.alias])
        opts = dict(settings_dict.get("OPTIONS") or {})
        engine = settings_dict["ENGINE"]
        if "postgresql" in engine:
            opts.pop("pool", None)  # never build a psycopg pool for a one-shot probe
            # libpq counts connect_timeout in whole seconds and treats 1 as 2; the runner
            # still answers at the check timeout, this only bounds the probe thread.
            opts["connect_timeout"] = max(2, math.ceil(timeout))
            ms = max(1, int(timeout * 1000))
            extra = f"-c statement_timeout={ms}"
            opts["options"] = f"{opts.get('options', '')} {extra}".strip()
            opts["tcp_user_timeout"] = ms  # a server that stops acking mid-query
        elif "sqlite" in engine:
            opts["timeout"] = timeout
        settings_dict["OPTIONS"] = opts
        settings_dict["CONN_MAX_AGE"] = 0
        settings_dict["CONN_HEALTH_CHECKS"] = False
        return settings_dict

    def configuration_problem(self) -> str | None:
        from django.conf import settings

        if self.database is None and self.alias not in settings.DATABASES:
            return f"the database alias {self.alias!r} is not in DATABASES"
        return None

    def secrets(self) -> list[str]:
        from django.conf import settings

        db = self.database or settings.DATABASES.get(self.alias) or {}
        return [db.get("PASSWORD") or "", (db.get("OPTIONS") or {}).get("password") or ""]

    def probe(self, timeout: float) -> Probe:
        from django.db import connections
        from django.db.utils import load_backend

        if self.database is None and self.alias not in connections.settings:
            raise NotConfigured(f"no database alias {self.alias!r}")
        settings_dict = self._settings(timeout)
        backend = load_backend(settings_dict["ENGINE"])
        conn = backend.DatabaseWrapper(settings_dict, self.alias)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            return Probe(ok=True, version=_db_version(conn))
        finally:
            conn.close()


def _db_version(conn: Any) -> str | None:
    if conn.vendor == "postgresql":
        v = conn.pg_version  # e.g. 150010
        return f"PostgreSQL {v // 10000}.{v % 10000}"
    if conn.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return conn.vendor


class _URLCheck(HealthCheck):
    """A check of a service named by one URL: the ``url`` option, else a Django setting."""

    url_setting = ""  # the host's settings name that holds the default URL

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(url=url, **options)
        self.url = url

    def _url(self) -> str | None:
        return self.url or _django_setting(self.url_setting)

    def configuration_problem(self) -> str | None:
        if self._url():
            return None
        return f"no URL (set {self.url_setting} or the check's url option)"

    def secrets(self) -> list[str]:
        from urllib.parse import unquote, urlsplit

        url = self._url()
        password = (urlsplit(url).password or "") if url else ""
        return [password, unquote(password)]  # as written in the URL and as sent


class Redis(_URLCheck):
    """PING on a fresh connection to ``url`` (default: the host's ``settings.REDIS_URL``)."""

    component_type = "datastore"
    url_setting = "REDIS_URL"

    def probe(self, timeout: float) -> Probe:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        url = self._url()
        if not url:
            raise NotConfigured("no Redis URL")
        # redis-py retries 3 times by default; a health probe must fail fast instead.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            single_connection_client=True,
            health_check_interval=0,
        )
        try:
            client.ping()
            return Probe(ok=True)
        except redis.exceptions.TimeoutError as exc:  # not a builtin TimeoutError subclass
            raise TimeoutError(str(exc)) from exc
        finally:
            client.close()


class RabbitMQ(_URLCheck):
    """AMQP connection and channel open with pika (default URL: ``settings.CELERY_BROKER_URL``)."""

    component_type = "component"
    url_setting = "CELERY_BROKER_URL"

    def configuration_problem(self) -> str | None:
        url = self._url()
        if url and not url.startswith(("amqp://", "amqps://")):
            return "the broker URL is not an amqp:// or amqps:// URL"
        return super().configuration_problem()

    def probe(self, timeout: float) -> Probe:
        import pika

        url = self._url()
        if not url:
            raise NotConfigured("no broker URL")
        from urllib.parse import unquote, urlsplit

        params = pika.URLParameters(url)
        # Celery/kombu spell the default vhost "amqp://host//"; pika would read that as "".
        path = urlsplit(url).path
        params.virtual_host = unquote(path[1:]) if len(path) > 1 else "/"
        params.socket_timeout = timeout
        params.stack_timeout = timeout  # the whole protocol handshake, not just connect()
        params.blocked_connection_timeout = timeout
        params.connection_attempts = 1
        params.retry_delay = 0
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            channel.close()
            props = getattr(connection._impl, "server_properties", None) or {}
            version = props.get("version")
            if isinstance(version, bytes):
                version = version.decode("ascii", "replace")
            return Probe(ok=True, version=f"RabbitMQ {version}" if version else None)
        finally:
            if connection.is_open:
                connection.close()


def llm_provider() -> str | None:
    """Return "azure", "google", "both" or None from the settings-store flags (I/O possible)."""
    from experio_platform.conf import platform_settings

    forced = platform_settings.LLM_PROVIDER
    if forced:
        return str(forced)
    azure = as_bool(config_value("USE_AZURE_OPENAI"))
    google = as_bool(config_value("USE_GOOGLE_GENAI"))
    if azure and google:
        return "both"
    return "azure" if azure else "google" if google else None


class LLM(HealthCheck):
    """A free model-listing request to the configured LLM provider; never a completion.

    Azure OpenAI: ``GET {endpoint}/openai/models?api-version=...`` with the ``api-key``
    header. Google GenAI: ``GET {base}/v1beta/models`` with the ``x-goog-api-key`` header.
    The runner refreshes it in the background (``LLM_REFRESH_INTERVAL``).
    """

    component_type = "system"

    def secrets(self) -> list[str]:
        try:
            return [
                str(config_value("AZURE_OPENAI_API_KEY") or ""),
                str(config_value("GOOGLE_API_KEY") or ""),
            ]
        except Exception:
            return []

    def configuration_problem(self) -> str | None:
        provider = llm_provider()
        if provider == "azure":
            missing = ["AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"]
        elif provider == "google":
            missing = ["GOOGLE_API_KEY"]
        else:
            return None  # off (system check W010) or both on (E015)
        empty = [k for k in missing if not config_value(k)]
        return f"{', '.join(empty)} empty" if empty else None

    def probe(self, timeout: float) -> Probe:
        import httpx

        provider = llm_provider()
        if provider is None:
            return Probe(ok=True, enabled=False)
        if provider == "both":
            return Probe(
                ok=False,
                reason=REASON_MISCONFIGURED,
                error="USE_AZURE_OPENAI and USE_GOOGLE_GENAI are both on; turn one off",
            )
        if provider == "azure":
            endpoint = config_value("AZURE_OPENAI_ENDPOINT")
            key = config_value("AZURE_OPENAI_API_KEY")
            if not endpoint or not key:
                raise NotConfigured("AZURE_OPENAI_ENDPOINT or AZURE_OPENAI_API_KEY is empty")
            version = config_value("AZURE_OPENAI_API_VERSION") or AZURE_DEFAULT_API_VERSION
            url = f"{str(endpoint).rstrip('/')}/openai/models"
            url, auth = split_userinfo(url)
            params = {"api-version": str(version)}
            headers = {"api-key": str(key)}
        elif provider == "google":
            key = config_value("GOOGLE_API_KEY")
            if not key:
                raise NotConfigured("GOOGLE_API_KEY is empty")
            base = config_value("GOOGLE_GENAI_BASE_URL") or GOOGLE_DEFAULT_BASE_URL
            url = f"{str(base).rstrip('/')}/v1beta/models"
            url, auth = split_userinfo(url)
            params = {"pageSize": "1"}
            headers = {"x-goog-api-key": str(key)}
        else:
            return Probe(
                ok=False, reason=REASON_MISCONFIGURED, error=f"unknown LLM provider {provider!r}"
            )
        with httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, auth=auth
        ) as client:
            response = client.get(url, params=params, headers=headers)
        if response.status_code == 200:
            return Probe(ok=True, version=provider)
        error = f"{provider}: HTTP {response.status_code}"
        return Probe(ok=False, reason=REASON_ERROR, error=error)


GRAPH_PROVIDER_NAMES = ("neo4j", "falkordb")


class Graph(HealthCheck):
    """A trivial query through the active graph provider; reports under the provider's name.

    The name (``neo4j`` or ``falkordb``, as operators read ``checks.neo4j.status``) is resolved
    at the start of each probe, in the pool thread, before any connection is attempted; the
    request path only reads what the last probe resolved (see :meth:`component_name`).
    """

    component_type = "datastore"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._provider_name: str | None = None

    def component_name(self) -> str:
        """The active provider's name, without I/O.

        The name the latest probe resolved from the settings store; before any probe got that
        far (a cold process whose first probe hangs on the store or the graph): the
        ``CONFIG_OVERRIDES`` value, else the store's default.
        """
        if self._provider_name:
            return self._provider_name
        name = str(offline_value("GRAPH_PROVIDER") or "").strip().lower()
        return name if name in GRAPH_PROVIDER_NAMES else GRAPH_PROVIDER_NAMES[0]

    def secrets(self) -> list[str]:
        try:
            return [
                str(config_value("NEO4J_PASSWORD") or ""),
                str(config_value("FALKOR_PASSWORD") or ""),
            ]
        except Exception:
            return []

    def probe(self, timeout: float) -> Probe:
        # Imported here: the graph package is another concern and may be absent or broken.
        from experio_platform.graph import get_graph

        # Name first: if the connection below hangs, the timeout is still reported under it.
        name = str(config_value("GRAPH_PROVIDER") or "").strip().lower()
        if name in GRAPH_PROVIDER_NAMES:
            self._provider_name = name
        provider = get_graph()
        self._provider_name = provider.name
        health = provider.health(timeout=timeout)
        return Probe(
            ok=bool(health.ok),
            error=health.error,
            reason=None if health.ok else REASON_ERROR,
            version=health.server_version,
            component=provider.name,
        )


class MCP(HealthCheck):
    """JSON-RPC ``initialize`` then ``ping`` against the MCP server over streamable HTTP."""

    component_type = "component"

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(url=url, **options)
        self.url = url

    def _url(self) -> str | None:
        from experio_platform.conf import platform_settings

        return self.url or config_value("MCP_SERVER_URL") or platform_settings.MCP_SERVER_URL

    def configuration_problem(self) -> str | None:
        return None if self._url() else "MCP_SERVER_URL is empty"

    def probe(self, timeout: float) -> Probe:
        import httpx

        from experio_platform import __version__

        url = self._url()
        if not url:
            raise NotConfigured("MCP_SERVER_URL is empty")
        url, auth = split_userinfo(str(url))
        end = time.monotonic() + timeout

        def left() -> httpx.Timeout:
            return httpx.Timeout(max(0.05, end - time.monotonic()))

        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "experio-health", "version": __version__},
            },
        }
        with httpx.Client(follow_redirects=False, auth=auth) as client:
            response = client.post(url, json=initialize, headers=headers, timeout=left())
            reply = _jsonrpc_reply(response, 1)
            result = reply.get("result") or {}
            info = result.get("serverInfo") or {}
            session = response.headers.get("mcp-session-id")
            if session:
                headers["mcp-session-id"] = session
            if result.get("protocolVersion"):
                headers["mcp-protocol-version"] = str(result["protocolVersion"])
            notified = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            client.post(url, json=notified, headers=headers, timeout=left())
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            _jsonrpc_reply(client.post(url, json=ping, headers=headers, timeout=left()), 2)
            if session:  # end the session politely; a failure here does not matter
                with contextlib.suppress(httpx.HTTPError):
                    client.delete(url, headers=headers, timeout=left())
        version = " ".join(str(v) for v in (info.get("name"), info.get("version")) if v)
        return Probe(ok=True, version=version or None)


def _jsonrpc_reply(response: Any, request_id: int) -> dict[str, Any]:
    """Return the JSON-RPC reply to ``request_id`` from a JSON or SSE-framed response."""
    if response.status_code != 200:
        raise RuntimeError(f"MCP server answered HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "")
    messages: list[Any] = []
    if content_type.startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:].strip()))
    else:
        messages.append(response.json())
    for message in messages:
        if isinstance(message, dict) and message.get("id") == request_id:
            if "error" in message:
                raise RuntimeError(f"MCP error: {message['error'].get('message', '?')}")
            return message
    raise RuntimeError("MCP server sent no reply to the request")


# Built-in checks: name -> (dotted path, critical, component type). "graph" reports under the
# active provider's name. Timeouts default to HEALTH_CHECK_TIMEOUT.
BUILTIN_CHECKS: dict[str, dict[str, Any]] = {
    "postgres": {"check": "experio_platform.health.checks.Postgres", "critical": True},
    "redis": {"check": "experio_platform.health.checks.Redis", "critical": True},
    "rabbitmq": {"check": "experio_platform.health.checks.RabbitMQ", "critical": True},
    "llm": {"check": "experio_platform.health.checks.LLM", "critical": True},
    "graph": {"check": "experio_platform.health.checks.Graph", "critical": False},
    "mcp": {"check": "experio_platform.health.checks.MCP", "critical": False},
}
