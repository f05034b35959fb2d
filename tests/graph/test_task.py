"""The replay task on a real Celery worker with the real RabbitMQ broker."""

from __future__ import annotations

import os
import uuid

import pytest

from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.models import GraphOutbox
from experio_platform.graph.outbox import defer

MERGE = "MERGE (n:GtTask {uid: $uid}) SET n.v = $v"


@pytest.mark.django_db(transaction=True)  # the worker thread reads the outbox on its own conn
def test_replay_task__worker_over_rabbitmq_applies_outbox(
    settings, falkor: FalkorDBProvider
) -> None:
    broker = os.environ.get("CELERY_BROKER_URL")
    if not broker:
        pytest.skip("CELERY_BROKER_URL is not set: run `. .run/test/env.sh` first")
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    from experio_platform.graph import reset_graph

    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": falkor.config.uri,
            "FALKOR_GRAPH": falkor.graph_name,
        }
    }
    for i in range(5):
        defer(MERGE, {"uid": f"t{i % 3}", "v": i}, key=f"t{i % 3}")
    queue = f"graph_test_{uuid.uuid4().hex[:8]}"
    app = Celery("graph_test", broker=broker, backend="rpc://", set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=False,
        broker_heartbeat=0,
    )
    app.loader.import_module("experio_platform.graph.tasks")
    task = app.tasks["experio_platform.graph.tasks.replay_graph_outbox"]
    try:
        with start_worker(
            app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=20
        ):
            report = task.apply_async().get(timeout=30)
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
        reset_graph()
    assert report["applied"] == 5 and report["remaining"] == 0
    assert GraphOutbox.objects.filter(status="applied").count() == 5
    rows = falkor.run("MATCH (n:GtTask) RETURN n.uid AS uid, n.v AS v", read_only=True)
    assert {r["uid"]: r["v"] for r in rows} == {"t0": 3, "t1": 4, "t2": 2}
