"""Celery tasks of the graph concern (the host's Celery app; broker RabbitMQ).

Schedule the replay with Celery beat, e.g. every 30 seconds::

    CELERY_BEAT_SCHEDULE = {"graph-outbox-replay": {
        "task": "experio_platform.graph.tasks.replay_graph_outbox", "schedule": 30.0}}

Importing this module imports no graph driver (the provider is built when the task runs).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="experio_platform.graph.tasks.replay_graph_outbox", ignore_result=False)
def replay_graph_outbox(limit: int | None = None) -> dict[str, Any]:
    """Replay pending deferred graph writes in order; return the report as a dict."""
    from experio_platform.graph.outbox import replay

    return replay(limit=limit).to_dict()
