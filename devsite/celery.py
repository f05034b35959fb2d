"""The devsite's Celery app (``celery -A devsite.celery:app worker -Q QUEUE``, ``... beat``).

Importing this module only creates the app object: the configuration is read lazily from Django
settings (``CELERY_*``, e.g. ``CELERY_BROKER_URL``) when the worker starts, and Celery's Django
fix-up calls ``django.setup()`` because the images set ``DJANGO_SETTINGS_MODULE``.
"""

from __future__ import annotations

from celery import Celery

# The platform's task modules. autodiscover_tasks() without arguments only finds a top-level
# ``<app>.tasks`` module, and the platform keeps its tasks per concern (graph/tasks.py), so a
# worker started with no list registered none of them ("Received unregistered task").
PLATFORM_TASK_PACKAGES = ["experio_platform.graph"]

# Deferred graph writes (the outbox) are replayed by this task; docs/graph.md asks for a beat
# schedule, and the compose file's `beat` service runs it.
BEAT_SCHEDULE = {
    "graph-outbox-replay": {
        "task": "experio_platform.graph.tasks.replay_graph_outbox",
        "schedule": 30.0,
    }
}

app = Celery("devsite")
# A string is resolved on first use, so no settings are read at import time.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
# Lazy: the modules are imported when the worker finalises the app, not here. The call without
# arguments also finds the host apps' own tasks.py modules.
app.autodiscover_tasks(PLATFORM_TASK_PACKAGES)
app.autodiscover_tasks()
