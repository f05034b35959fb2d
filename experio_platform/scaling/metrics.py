"""Queue depth from RabbitMQ: the management HTTP API, with AMQP passive declare as fallback.

The management API reports ``messages_ready``, ``messages_unacknowledged`` and ``consumers``
(sampled by RabbitMQ every ``collect_statistics_interval``, ~5 s by default). A passive
``queue_declare`` only reports ready messages, so a ``QueueMetrics`` from the fallback carries
``source="amqp"`` and the decision function never scales to zero on it (KEDA#356: the work a
consumer holds unacknowledged is invisible there).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from experio_platform.scaling.policy import QueueMetrics, QueueSnapshot

logger = logging.getLogger(__name__)


class MetricsError(Exception):
    """A source could not be read (network, auth, unexpected answer)."""


def _split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url.rstrip("/"), None
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean.rstrip("/"), (unquote(parts.username), unquote(parts.password or ""))


def _vhost_of(amqp_url: str | None) -> str:
    if not amqp_url:
        return "/"
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _pika_url(url: str) -> str:
    """Rewrite a Celery/kombu broker URL for pika: kombu reads ``amqp://h//`` as vhost "/",
    pika as vhost "" (which RabbitMQ refuses), so the vhost is re-quoted explicitly."""
    parts = urlsplit(url)
    vhost = quote(_vhost_of(url), safe="")
    return urlunsplit((parts.scheme, parts.netloc, f"/{vhost}", parts.query, ""))


@dataclass
class QueueMetricsReader:
    """Reads the queues of one service per call; one instance per reconcile loop.

    Args:
        management_url: ``http://user:pass@host:15672`` (credentials in the URL), or None.
        amqp_url: ``amqp://user:pass@host:5672/vhost`` for the fallback, or None.
    """

    management_url: str | None
    amqp_url: str | None = None
    timeout: float = 5.0
    vhost: str | None = None
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def _http(self) -> tuple[httpx.Client, str]:
        base, auth = _split_auth(self.management_url or "")
        if self._client is None:
            self._client = httpx.Client(auth=auth, timeout=self.timeout)
        return self._client, base

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def read(self, queues: list[str]) -> QueueMetrics:
        """Return the metrics of ``queues``; never raises (failures land in ``error``)."""
        vhost = self.vhost or _vhost_of(self.amqp_url)
        if self.management_url:
            try:
                return QueueMetrics(tuple(self._read_management(q, vhost) for q in queues))
            except MetricsError as exc:
                mgmt_error = str(exc)
                logger.warning("RabbitMQ management API failed, trying AMQP: %s", exc)
        else:
            mgmt_error = "RABBITMQ_MANAGEMENT_URL is not set"
        if not self.amqp_url:
            return QueueMetrics(error=f"{mgmt_error}; no AMQP fallback configured")
        try:
            return QueueMetrics(tuple(self._read_amqp(queues)), source="amqp")
        except MetricsError as exc:
            return QueueMetrics(error=f"{mgmt_error}; AMQP fallback: {exc}")

    def _read_management(self, queue: str, vhost: str) -> QueueSnapshot:
        client, base = self._http()
        url = f"{base}/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}"
        try:
            resp = client.get(url)
        except httpx.HTTPError as exc:
            raise MetricsError(f"management API unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            return QueueSnapshot(queue, exists=False)
        if resp.status_code == 401:
            raise MetricsError("management API refused the credentials (401)")
        if resp.status_code != 200:
            raise MetricsError(f"management API answered {resp.status_code}")
        data = resp.json()
        if "messages_ready" not in data:
            # A queue declared moments ago has no statistics yet; counts are unknown, not 0.
            raise MetricsError(f"no statistics yet for queue {queue!r}")
        return QueueSnapshot(
            queue,
            True,
            int(data.get("messages_ready") or 0),
            int(data.get("messages_unacknowledged") or 0),
            int(data.get("consumers") or 0),
        )

    def _read_amqp(self, queues: list[str]) -> list[QueueSnapshot]:
        import pika
        from pika.exceptions import AMQPError, ChannelClosedByBroker

        params = pika.URLParameters(_pika_url(self.amqp_url or ""))
        params.socket_timeout = self.timeout
        params.blocked_connection_timeout = self.timeout
        params.connection_attempts = 1
        try:
            conn = pika.BlockingConnection(params)
        except (AMQPError, OSError) as exc:
            raise MetricsError(f"AMQP connect failed: {type(exc).__name__}") from exc
        out: list[QueueSnapshot] = []
        try:
            channel = conn.channel()
            for queue in queues:
                try:
                    ok = channel.queue_declare(queue, passive=True)
                except ChannelClosedByBroker as exc:
                    if exc.reply_code != 404:
                        raise MetricsError(f"AMQP passive declare: {exc.reply_text}") from exc
                    out.append(QueueSnapshot(queue, exists=False, unacked=None, consumers=None))
                    channel = conn.channel()  # a 404 closes the channel
                    continue
                out.append(
                    QueueSnapshot(
                        queue,
                        True,
                        ok.method.message_count,
                        None,  # unacked is invisible to AMQP
                        ok.method.consumer_count,
                    )
                )
        except AMQPError as exc:
            raise MetricsError(f"AMQP failed: {type(exc).__name__}") from exc
        finally:
            with contextlib.suppress(AMQPError):
                conn.close()
        return out


def reader_from_settings() -> QueueMetricsReader:
    """Build the reader from the scaling settings (env fallbacks read now)."""
    from experio_platform.conf import platform_settings
    from experio_platform.scaling.settings import amqp_url, setting

    return QueueMetricsReader(
        management_url=setting("RABBITMQ_MANAGEMENT_URL"),
        amqp_url=amqp_url(),
        timeout=float(platform_settings.SCALER_METRICS_TIMEOUT),
    )
