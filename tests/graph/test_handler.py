"""get_graph(): selection from the settings store, new instance on change, no I/O, fork."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from experio_platform import config
from experio_platform.exceptions import ConfigurationError, ExperioPlatformError
from experio_platform.graph import get_graph, reset_graph
from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.neo4j import Neo4jProvider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh() -> None:
    reset_graph()
    yield
    reset_graph()


_SHORT = {  # grace before a retired provider is closed: 0.1 + 0.1 * 1 s
    "GRAPH_CONNECT_TIMEOUT": 0.1,
    "GRAPH_QUERY_TIMEOUT": 0.1,
    "GRAPH_RETRY_ATTEMPTS": 1,
}


def test_get_graph__provider_from_store_and_new_instance_on_change(settings) -> None:
    import time

    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {"GRAPH_PROVIDER": "falkordb", "FALKOR_URI": "redis://127.0.0.1:1"},
        **_SHORT,
    }
    first = get_graph()
    assert isinstance(first, FalkorDBProvider) and first.name == "falkordb"
    assert first.graph_name == "experio" and first._client is None
    assert get_graph() is first

    # A row in the settings store wins over the override and takes effect without a restart.
    config.set("FALKOR_GRAPH", "graph_other", source="test")
    config.clear_cache()
    second = get_graph()
    assert second is not first and second.graph_name == "graph_other"
    assert first.config.database == "experio"  # the live instance was not mutated
    assert not first.closed  # in-flight calls may still use it: closed after its grace
    time.sleep(0.25)
    assert get_graph() is second and first.closed

    config.set("GRAPH_PROVIDER", "neo4j", source="test")
    config.set("NEO4J_URI", "bolt://127.0.0.1:1", source="test")
    config.clear_cache()
    third = get_graph()
    assert isinstance(third, Neo4jProvider) and third.name == "neo4j"
    assert not second.closed  # just retired: in-flight calls may still use it
    time.sleep(0.25)
    assert get_graph() is third and second.closed and not third.closed


def test_get_graph__store_change_of_uri_takes_effect_for_the_next_call(
    settings, falkor: FalkorDBProvider, closed_port: int
) -> None:
    """A wrong FALKOR_URI fails; fixing it in the settings store (no restart) makes the next
    call on get_graph() reach the real server; the broken instance is not mutated."""
    from experio_platform.graph.exceptions import GraphUnavailable

    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "falkordb",
            "FALKOR_URI": f"redis://127.0.0.1:{closed_port}",
            "FALKOR_GRAPH": falkor.graph_name,
        },
        **_SHORT,
    }
    broken = get_graph()
    with pytest.raises(GraphUnavailable):
        broken.run("RETURN 1")
    config.set("FALKOR_URI", falkor.config.uri, source="test")
    config.clear_cache()
    fixed = get_graph()
    assert fixed is not broken and fixed.run("RETURN 5 AS x").value() == 5
    assert broken.config.uri.endswith(str(closed_port))


def test_get_graph__unknown_provider_is_configuration_error(settings) -> None:
    settings.EXPERIO_PLATFORM = {"CONFIG_OVERRIDES": {"GRAPH_PROVIDER": "neo5j"}}
    with pytest.raises(ExperioPlatformError, match="neo5j"):  # the store validates choices
        get_graph()
    with pytest.raises(ConfigurationError, match="neo5j"):  # and so does the handler
        get_graph("neo5j")


def test_get_graph__password_not_in_repr(settings) -> None:
    settings.EXPERIO_PLATFORM = {
        "CONFIG_OVERRIDES": {
            "GRAPH_PROVIDER": "neo4j",
            "NEO4J_USER": "neo4j",
            "NEO4J_PASSWORD": "hunter2-pw",
        }
    }
    graph = get_graph()
    assert "hunter2-pw" not in repr(graph) and "hunter2-pw" not in repr(graph.config)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_get_graph__child_after_fork_drops_native_client(falkor: FalkorDBProvider) -> None:
    from experio_platform.graph import handler

    falkor.run("RETURN 1")
    assert falkor._client is not None
    handler._register_fork_hook()
    handler._current = falkor
    try:
        pid = os.fork()
        if pid == 0:  # child: the parent's socket must be forgotten, then reconnect works
            ok = falkor._client is None and falkor.run("RETURN 2 AS x").value() == 2
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        handler._current = None
    assert os.waitstatus_to_exitcode(status) == 0
    assert falkor._client is not None  # the parent's client is untouched


def test_import__no_driver_no_connection() -> None:
    """Importing the package, the outbox model and running `check` import no graph driver."""
    code = (
        "import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE']='tests.settings'; "
        "django.setup(); import experio_platform.graph, experio_platform.graph.models, "
        "experio_platform.graph.tasks; "
        "bad=[m for m in ('neo4j','falkordb','redis') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
