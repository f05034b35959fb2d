"""``seed_config``: desired values, policies, flags, atomicity and the no-op (real PostgreSQL)."""

from __future__ import annotations

import json
import logging
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experio_platform import config
from experio_platform.config import ConfigKey
from experio_platform.config.models import ConfigChange, ConfigEntry, ConfigState
from experio_platform.config.registry import BUILTIN_KEYS, get_registry
from tests.config.conftest import CANARY, child_env, manage, platform

pytestmark = pytest.mark.django_db

# Host keys for the tests (CONFIG_EXTRA_KEYS names them by dotted path).
HOST_KEYS = [ConfigKey("HOST_LIMIT", "host", type=int, default=10, help="A host tunable.")]
HOST_KEYS_NEW_DEFAULT = [ConfigKey("HOST_LIMIT", "host", type=int, default=20)]
MANY_KEYS = [ConfigKey(f"HOST_K{i:03d}", "host", default=f"v{i}") for i in range(len(BUILTIN_KEYS))]


def seed(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("seed_config", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def line(text: str, key: str) -> str:
    return next(row for row in text.splitlines() if row.split() and row.split()[0] == key)


def stamp() -> tuple[int, int]:
    state = ConfigState.objects.filter(pk=1).first()
    return (state.version if state else 0), ConfigChange.objects.count()


def test_seed_config__creates_every_key_then_noop_writes_nothing() -> None:
    code, out = seed()
    assert code == 0
    assert ConfigEntry.objects.count() == len(BUILTIN_KEYS)
    assert out.splitlines()[-1].startswith(f"seed_config: {len(BUILTIN_KEYS)} created")
    before = stamp()
    code, out = seed()
    assert code == 0 and stamp() == before  # no version bump, no change-log row
    assert (
        out.splitlines()[-1] == f"seed_config: 0 created, 0 updated, {len(BUILTIN_KEYS)} unchanged"
    )
    assert seed("--check")[0] == 0


def test_seed_config__env_managed_key_follows_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://graph-a:7687")
    seed()
    monkeypatch.setenv("NEO4J_URI", "neo4j+s://graph-b:7687")
    assert seed("--check")[0] == 3
    code, out = seed()
    assert code == 0
    assert "UPDATED" in line(out, "NEO4J_URI")
    assert "bolt://graph-a:7687 -> neo4j+s://graph-b:7687" in line(out, "NEO4J_URI")
    assert config.get("NEO4J_URI") == "neo4j+s://graph-b:7687"
    # The store is the source of truth afterwards, whatever the process environment says.
    monkeypatch.setenv("NEO4J_URI", "bolt://elsewhere:7687")
    assert config.get("NEO4J_URI") == "neo4j+s://graph-b:7687"


def test_seed_config__operator_edit_of_seed_once_key_is_drift(monkeypatch) -> None:
    seed()
    config.set("AZURE_OPENAI_API_VERSION", "2025-01-01-preview", source="admin")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-06-01")
    before = stamp()
    code, out = seed()
    assert code == 0 and "DRIFT" in line(out, "AZURE_OPENAI_API_VERSION")
    assert stamp() == before
    assert seed("--check")[0] == 3
    # --force keeps it too (still drift); --override-admin writes it.
    assert "DRIFT" in line(seed("--force")[1], "AZURE_OPENAI_API_VERSION")
    assert config.get("AZURE_OPENAI_API_VERSION") == "2025-01-01-preview"
    assert "UPDATED" in line(seed("--force", "--override-admin")[1], "AZURE_OPENAI_API_VERSION")
    assert config.get("AZURE_OPENAI_API_VERSION") == "2024-06-01"


def test_seed_config__untouched_key_follows_a_changed_code_default(settings) -> None:
    settings.EXPERIO_PLATFORM = platform(CONFIG_EXTRA_KEYS=["tests.config.test_seed.HOST_KEYS"])
    seed()
    assert config.get("HOST_LIMIT") == 10
    settings.EXPERIO_PLATFORM = platform(
        CONFIG_EXTRA_KEYS=["tests.config.test_seed.HOST_KEYS_NEW_DEFAULT"]
    )
    _code, out = seed()
    assert "UPDATED" in line(out, "HOST_LIMIT") and "code default changed" in line(
        out, "HOST_LIMIT"
    )
    assert config.get("HOST_LIMIT") == 20


def test_seed_config__force_resets_env_seeded_key_once_variable_is_gone(monkeypatch) -> None:
    monkeypatch.setenv("NEO4J_DATABASE", "experio")
    seed()
    monkeypatch.delenv("NEO4J_DATABASE")
    _code, out = seed()
    assert "UNCHANGED" in line(out, "NEO4J_DATABASE") and config.get("NEO4J_DATABASE") == "experio"
    _code, out = seed("--force")
    assert "UPDATED" in line(out, "NEO4J_DATABASE") and config.get("NEO4J_DATABASE") == "neo4j"


def test_seed_config__set_wins_over_environment(monkeypatch) -> None:
    monkeypatch.setenv("GRAPH_PROVIDER", "neo4j")
    code, _out = seed("--set", "GRAPH_PROVIDER=falkordb", "--set", "MAX_UPLOAD_MB=7")
    assert code == 0 and config.get("GRAPH_PROVIDER") == "falkordb"
    assert config.get("MAX_UPLOAD_MB") == 7
    assert ConfigEntry.objects.get(key="GRAPH_PROVIDER").source == "cli"


def test_seed_config__empty_set_value_is_refused_not_stored(monkeypatch) -> None:
    """`--set KEY=` (an empty shell variable, say) is an error, as an empty environment
    variable counts as unset: nothing written, exit 1, and the message says how to unset."""
    monkeypatch.setenv("NEO4J_URI", "bolt://graph.internal:7687")
    assert seed()[0] == 0
    before = stamp()
    code, out = seed("--set", "NEO4J_URI=", "--set", "MAX_UPLOAD_MB=7")
    assert code == 1, out
    assert "--set NEO4J_URI= is empty" in out and "--only NEO4J_URI" in out
    assert stamp() == before  # nothing written, not even the valid --set beside it
    assert config.get("NEO4J_URI") == "bolt://graph.internal:7687"
    assert ConfigEntry.objects.get(key="NEO4J_URI").source == "env"


# An invalid value for every key that has a type, choices or a validator: {key: (var, value)}.
INVALID = {
    "GRAPH_PROVIDER": ("GRAPH_PROVIDER", "arangodb"),
    "NEO4J_URI": ("NEO4J_URI", "http://graph:7474"),
    "FALKOR_URI": ("FALKOR_URI", "mysql://x"),
    "USE_AZURE_OPENAI": ("USE_AZURE_OPENAI", "maybe"),
    "AZURE_OPENAI_ENDPOINT": ("AZURE_OPENAI_ENDPOINT", "ftp://x"),
    "AZURE_OPENAI_API_VERSION": ("AZURE_OPENAI_API_VERSION", "latest"),
    "USE_GOOGLE_GENAI": ("USE_GOOGLE_GENAI_FILE", "perhaps"),  # through a secret file
    "GOOGLE_GENAI_BASE_URL": ("GOOGLE_GENAI_BASE_URL", "gopher://x"),
    "MCP_SERVER_URL": ("MCP_SERVER_URL", "mcp://x"),
    "LLM_REQUEST_TIMEOUT": ("LLM_REQUEST_TIMEOUT", "-1"),
    "GRAPH_QUERY_LIMIT": ("GRAPH_QUERY_LIMIT", "1.5"),
    "MAX_UPLOAD_MB": ("MAX_UPLOAD_MB", "0"),
    "MAINTENANCE_MODE": ("MAINTENANCE_MODE", "perhaps"),
}


def _invalid_environ(tmp_path: Path) -> dict[str, str]:
    environ = {}
    for var, value in INVALID.values():
        if var.endswith("_FILE"):
            (tmp_path / var).write_text(value + "\n")
            value = str(tmp_path / var)
        environ[var] = value
    return environ


def _assert_every_error_listed(out: str) -> None:
    """One ERROR line per invalid key, naming the key and the variable, and no other line."""
    for key, (var, _value) in INVALID.items():
        assert "ERROR" in line(out, key) and f"{key} (from {var})" in line(out, key), key
    rows = [r for r in out.splitlines() if r.split() and r.split()[0] in get_registry()]
    assert len(rows) == len(INVALID) and all("  ERROR  " in r for r in rows), rows


def test_seed_config__invalid_values_all_listed_nothing_written(monkeypatch, tmp_path) -> None:
    for var, value in _invalid_environ(tmp_path).items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("NEO4J_USER", "valid-user")
    seed("--only", "NEO4J_USER", "--set", "NEO4J_USER=other")  # one row exists before
    before = stamp()
    code, out = seed("--set", "NEO4J_PASSWORD=" + CANARY)
    assert code == 1 and CANARY not in out
    _assert_every_error_listed(out)
    # Nothing written: not the valid keys, not the --set secret, no version bump, no log row.
    assert stamp() == before and ConfigEntry.objects.count() == 1
    assert config.get("NEO4J_USER") == "other"


@pytest.mark.slow
def test_seed_config__command_line_lists_every_error_by_variable(fresh_db, tmp_path) -> None:
    """Through manage.py (system checks of other apps would run there): the same listing."""
    env = child_env(DB_NAME=fresh_db, **_invalid_environ(tmp_path))
    result = manage(["seed_config"], env)
    assert result.returncode == 1, result.stderr[-2000:]
    _assert_every_error_listed(result.stdout)
    assert "nothing was written" in result.stderr


def test_seed_config__secret_file_and_empty_variable(monkeypatch, tmp_path: Path) -> None:
    secret = tmp_path / "neo4j-password"
    secret.write_text(CANARY + "\n")
    monkeypatch.setenv("NEO4J_PASSWORD", "")  # empty counts as unset: the file is used
    monkeypatch.setenv("NEO4J_PASSWORD_FILE", str(secret))
    code, out = seed()
    assert code == 0 and config.get("NEO4J_PASSWORD") == CANARY
    assert "NEO4J_PASSWORD_FILE" in line(out, "NEO4J_PASSWORD")
    monkeypatch.setenv("NEO4J_PASSWORD_FILE", str(tmp_path / "missing"))
    code, out = seed()
    assert code == 1 and "cannot read" in line(out, "NEO4J_PASSWORD")


def test_seed_config__canary_never_printed_nor_logged(monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="experio_platform")
    monkeypatch.setenv("FALKOR_PASSWORD", CANARY)
    outputs = [seed()[1], seed("--json")[1], seed("--dry-run")[1]]
    monkeypatch.setenv("FALKOR_PASSWORD", CANARY + "-rotated")
    outputs += [seed("--dry-run", "--json")[1], seed()[1]]
    assert config.get("FALKOR_PASSWORD") == CANARY + "-rotated"
    assert all(CANARY not in text for text in outputs)
    assert "FALKOR_PASSWORD updated by seed_config" in caplog.text and CANARY not in caplog.text
    assert "********" in line(outputs[-1], "FALKOR_PASSWORD")
    log = list(ConfigChange.objects.values())
    assert log and CANARY not in json.dumps(log, default=str)
    row = ConfigEntry.objects.filter(key="FALKOR_PASSWORD").values().get()
    assert CANARY not in json.dumps(row, default=str)


def test_seed_config__scope_flags_and_usage_errors() -> None:
    code, _out = seed("--only", "NEO4J_URI,NEO4J_USER")
    assert code == 0 and set(ConfigEntry.objects.values_list("key", flat=True)) == {
        "NEO4J_URI",
        "NEO4J_USER",
    }
    seed("--namespace", "llm")
    assert ConfigEntry.objects.filter(key="USE_AZURE_OPENAI").exists()
    assert not ConfigEntry.objects.filter(key="MAX_UPLOAD_MB").exists()
    assert seed("--only", "NOPE")[0] == 2
    assert seed("--namespace", "nope")[0] == 2
    assert seed("--set", "NOPE=1")[0] == 2
    assert seed("--set", "novalue")[0] == 2
    assert seed("--only", "NEO4J_URI", "--set", "MAX_UPLOAD_MB=3")[0] == 2


def test_seed_config__unknown_rows_reported_and_pruned() -> None:
    seed()
    ConfigEntry.objects.create(key="RETIRED_KEY", value="x", source="default")
    code, out = seed()
    assert "SKIPPED" in line(out, "RETIRED_KEY") and ConfigEntry.objects.filter(key="RETIRED_KEY")
    code, out = seed("--prune", "--dry-run")
    assert "DELETED" in line(out, "RETIRED_KEY") and ConfigEntry.objects.filter(key="RETIRED_KEY")
    code, out = seed("--prune")
    assert code == 0 and not ConfigEntry.objects.filter(key="RETIRED_KEY").exists()
    assert ConfigChange.objects.filter(key="RETIRED_KEY", action="deleted").exists()


def test_seed_config__dry_run_and_json_write_nothing() -> None:
    code, out = seed("--dry-run", "--json")
    data = json.loads(out)
    assert code == 0 and data["dry_run"] is True and data["command"] == "seed_config"
    assert data["counts"]["created"] == len(BUILTIN_KEYS)
    assert {"name", "action", "source", "old", "new", "detail"} <= set(data["items"][0])
    assert not ConfigEntry.objects.exists() and stamp() == (0, 0)
    assert seed("--check")[0] == 3 and not ConfigEntry.objects.exists()


def test_seed_config__rotate_keys(settings, monkeypatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": [old]}
    monkeypatch.setenv("GOOGLE_API_KEY", CANARY)
    seed()
    ciphertext = ConfigEntry.objects.get(key="GOOGLE_API_KEY").ciphertext
    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": [new, old]}
    assert seed("--rotate-keys", "--check")[0] == 3
    code, out = seed("--rotate-keys")
    assert code == 0 and "UPDATED" in line(out, "GOOGLE_API_KEY") and CANARY not in out
    assert ConfigEntry.objects.get(key="GOOGLE_API_KEY").ciphertext != ciphertext
    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": [new]}  # the old key is retired
    config.clear_cache()
    assert config.get("GOOGLE_API_KEY") == CANARY
    assert "UNCHANGED" in line(seed("--rotate-keys")[1], "GOOGLE_API_KEY")
    # A key that decrypts nothing: a clear error naming the setting key, nothing written.
    settings.EXPERIO_PLATFORM = {"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    code, out = seed("--rotate-keys")
    assert code == 1 and "GOOGLE_API_KEY" in line(out, "GOOGLE_API_KEY")
    code, out = seed()
    assert code == 1 and "cannot be decrypted" in line(out, "GOOGLE_API_KEY")


def test_seed_config__noop_query_count_is_constant(settings) -> None:
    """The no-op run reads all rows in one query: N and 2N keys cost the same SQL."""
    counts = []
    for extra in ([], ["tests.config.test_seed.MANY_KEYS"]):
        settings.EXPERIO_PLATFORM = platform(CONFIG_EXTRA_KEYS=extra)
        seed()
        with CaptureQueriesContext(connection) as ctx:
            code, out = seed()
        assert code == 0 and "0 created, 0 updated" in out
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 5, counts


def test_seed_config__missing_table_is_a_clear_failure() -> None:
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE experio_platform_configentry RENAME TO configentry_gone")
    code, out = seed()
    assert code == 1 and "run `manage.py migrate`" in out


def test_seed_config__refuses_the_secret_key_fallback_without_debug(settings) -> None:
    """No ENCRYPTION_KEYS: exit 2 (E030) with DEBUG off, nothing written; a W030 warning on
    stderr with DEBUG on (make dev), where the run goes ahead."""
    settings.EXPERIO_PLATFORM = {"CONFIG_OVERRIDES": {}}
    settings.DEBUG = False
    code, out = seed()
    assert code == 2 and "experio_platform.E030" in out
    assert not ConfigEntry.objects.exists()
    settings.DEBUG = True
    err = StringIO()
    call_command("seed_config", stdout=StringIO(), stderr=err)
    assert "warning: (experio_platform.W030)" in err.getvalue()
    assert ConfigEntry.objects.count() == len(BUILTIN_KEYS)
