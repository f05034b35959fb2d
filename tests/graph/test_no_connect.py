"""Nothing connects to a graph at import, app start (WSGI/ASGI/Celery), ``migrate``, ``initdb``
or ``check``: real child processes run against two TCP listeners standing in for FalkorDB and
Neo4j that count every connection; ``graph_status`` is the positive control (it must connect).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.graph.servers import CountingListener


@pytest.fixture
def listeners() -> Iterator[tuple[CountingListener, CountingListener]]:
    pair = (CountingListener(), CountingListener())
    yield pair
    for item in pair:
        item.close()


@pytest.mark.django_db(transaction=True)  # the children use the test database
def test_no_graph_connection__import_app_start_migrate_initdb(
    listeners: tuple[CountingListener, CountingListener],
) -> None:
    from django.db import connection

    falkor, neo4j = listeners
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DB_NAME": connection.settings_dict["NAME"],
        "GRAPH_PROVIDER": "falkordb",
        "FALKOR_URI": f"redis://127.0.0.1:{falkor.port}",
        "NEO4J_URI": f"bolt://127.0.0.1:{neo4j.port}",
        "DJANGO_SUPERUSER_PASSWORD": "Graph-test-pw-4711!",
        "DJANGO_SUPERUSER_EMAIL": "graph-admin@example.com",
    }
    start = (
        "import django; django.setup(); from devsite.wsgi import application; "
        "from devsite.asgi import application as asgi; from devsite.celery import app; "
        "app.loader.import_default_modules(); import experio_platform.graph.tasks"
    )
    for args in (["manage.py", "migrate", "-v0"], ["manage.py", "initdb"], ["-c", start]):
        proc = subprocess.run(
            [sys.executable, *args], env=env, capture_output=True, text=True, timeout=90
        )
        assert proc.returncode == 0, (args, proc.stderr[-1500:])
        assert (falkor.accepted, neo4j.accepted) == (0, 0), args
    # Positive control: the same environment reaches the listener when a graph is used
    # (initdb seeded FALKOR_URI into the settings store from the environment).
    status = subprocess.run(
        [sys.executable, "manage.py", "graph_status", "--timeout", "0.5"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 1 and falkor.accepted >= 1, status.stdout + status.stderr
