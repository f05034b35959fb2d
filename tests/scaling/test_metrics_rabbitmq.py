"""Queue metrics against the real RabbitMQ on loopback (management plugin, stats every 0.5 s).

Queues are named ``scaling_<random>`` and deleted afterwards.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import pika
import pytest

from experio_platform.scaling.metrics import QueueMetricsReader, _pika_url
from experio_platform.scaling.policy import QueueMetrics

MGMT = os.environ.get("RABBITMQ_MANAGEMENT_URL")
AMQP = os.environ.get("CELERY_BROKER_URL")
pytestmark = pytest.mark.skipif(not (MGMT and AMQP), reason="needs .run/test/env.sh")


@pytest.fixture
def channel() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    conn = pika.BlockingConnection(pika.URLParameters(_pika_url(AMQP)))
    ch = conn.channel()
    declared: list[str] = []
    ch.declared = declared  # type: ignore[attr-defined]
    yield ch
    cleanup = conn.channel() if ch.is_closed else ch
    for name in declared:
        cleanup.queue_delete(name)
    conn.close()


def declare(ch, n_messages: int) -> str:
    name = f"scaling_{uuid.uuid4().hex[:10]}"
    ch.queue_declare(name, auto_delete=False)
    ch.declared.append(name)
    for i in range(n_messages):
        ch.basic_publish("", name, f"job {i}".encode())
    return name


def poll(read: Callable[[], QueueMetrics], ok: Callable[[QueueMetrics], bool]) -> QueueMetrics:
    deadline = time.monotonic() + 20
    while True:
        m = read()
        if ok(m) or time.monotonic() > deadline:
            return m
        time.sleep(0.25)


def test_metrics__ready_vs_unacked_vs_consumers(channel) -> None:
    name = declare(channel, 5)
    # A consumer holding 2 unacknowledged messages (prefetch 2, never acks).
    channel.basic_qos(prefetch_count=2)
    channel.basic_consume(name, lambda *a: None, auto_ack=False)
    channel.connection.process_data_events(time_limit=0.5)
    reader = QueueMetricsReader(MGMT, AMQP, timeout=2)
    m = poll(
        lambda: reader.read([name]),
        lambda m: not m.error and m.queues[0].unacked == 2 and m.queues[0].ready == 3,
    )
    assert m.source == "management" and m.error is None
    q = m.queues[0]
    assert (q.ready, q.unacked, q.consumers) == (3, 2, 1)
    assert (m.ready, m.unacked) == (3, 2)
    # The AMQP fallback sees only the ready ones and says it cannot see unacked work.
    fallback = QueueMetricsReader(None, AMQP, timeout=2).read([name])
    assert fallback.source == "amqp" and fallback.queues[0].ready == 3
    assert fallback.queues[0].unacked is None and not fallback.sees_unacked
    reader.close()


def test_metrics__missing_queue_is_reported_not_zero(channel) -> None:
    name = declare(channel, 1)
    missing = f"scaling_missing_{uuid.uuid4().hex[:6]}"
    reader = QueueMetricsReader(MGMT, AMQP, timeout=2)
    m = poll(lambda: reader.read([name, missing]), lambda m: not m.error)
    assert m.missing == [missing]
    assert m.queues[0].exists
    amqp = QueueMetricsReader(None, AMQP, timeout=2).read([missing, name])
    assert amqp.missing == [missing] and amqp.queues[1].ready == 1
    reader.close()


def test_metrics__bad_credentials_fall_back_then_error(channel) -> None:
    name = declare(channel, 2)
    bad_mgmt = MGMT.replace("guest:guest@", "guest:wrong@")
    m = poll(
        lambda: QueueMetricsReader(bad_mgmt, AMQP, timeout=2).read([name]),
        lambda m: m.source == "amqp" and m.ready == 2,
    )
    assert m.source == "amqp" and m.error is None and m.ready == 2
    bad_amqp = AMQP.replace("guest:guest@", "guest:wrong@")
    both = QueueMetricsReader(bad_mgmt, bad_amqp, timeout=2).read([name])
    assert both.error and "401" in both.error and "AMQP" in both.error
    assert "wrong" not in both.error  # no credentials in error text


def test_metrics__unreachable_management_without_fallback_is_an_error() -> None:
    m = QueueMetricsReader("http://127.0.0.1:9", None, timeout=0.5).read(["scaling_x"])
    assert m.error and "unreachable" in m.error
