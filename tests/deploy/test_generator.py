"""The pinned Omnistrate compose generator: golden files, errors, TAG rules, atomic writes, CLI.

Golden inputs are tests/deploy/golden/<case>.yaml; the expected output is <case>.omni.yaml, or,
for a case that must fail, <case>.err (the exact stderr) with the exit code in ERROR_CASES.
Every golden output is also fed to the real Compose v2 parser.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experio_platform.deploy import main
from experio_platform.deploy.generator import (
    InvalidComposeError,
    InvalidTagError,
    Options,
    find_duplicate_keys,
    render,
    validate_tag,
    verify,
    write_atomic,
)
from experio_platform.deploy.references import InvalidReference, parse_reference

from .helpers import GOLDEN, ROOT, TAG, UPDATE_GOLDEN, run_compose_config

OK_CASES = [
    "merge_single",
    "merge_list",
    "build_and_image",
    "build_inherited",
    "build_list_merge",
    "sidecars",
    "profiles",
    "depends_long",
    "comments",
    "templates",
]
ERROR_CASES = {
    "build_string": 1,
    "plain_dockerfile": 1,
    "inline_dockerfile": 1,
    "duplicate_keys": 1,
    "duplicate_keys_deep": 1,
    "bad_images": 1,
    "bad_depends": 1,
    "secrets": 1,
    "schema_invalid": 1,
    "not_yaml": 1,
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_golden(path: Path, actual: str) -> None:
    if UPDATE_GOLDEN:
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"missing golden {path.name}; run with EXPERIO_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"output differs from {path.name}"


# ------------------------------------------------------------------------------- golden files


@pytest.mark.parametrize("case", OK_CASES)
def test_generate__golden(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = GOLDEN / f"{case}.yaml"
    output = tmp_path / "docker-compose.omni.yaml"
    code, _, err = _run([TAG, "-f", str(source), "-o", str(output)], capsys)
    assert code == 0, err
    text = output.read_text(encoding="utf-8")
    _check_golden(GOLDEN / f"{case}.omni.yaml", text)
    # Whatever the case: no build key left, and every $ or {{ line not about images is verbatim.
    assert not re.search(r"^\s*build:", text, re.M)
    source_lines = source.read_text(encoding="utf-8").splitlines()
    for line in source_lines:
        if ("$" in line or "{{" in line) and "image" not in line:
            assert line in text.splitlines(), f"template line changed: {line!r}"
    result = run_compose_config(output, "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_generate__golden_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "docker-compose.omni.yaml"
    output.write_text("previous release\n", encoding="utf-8")
    monkeypatch.chdir(GOLDEN)  # relative paths in the messages, the same in any checkout
    code, _, err = _run([TAG, "-f", f"{case}.yaml", "-o", str(output)], capsys)
    assert code == ERROR_CASES[case]
    _check_golden(GOLDEN / f"{case}.err", err)
    assert output.read_text(encoding="utf-8") == "previous release\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docker-compose.omni.yaml"]


def test_generate__project_compose_golden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "docker-compose.omni.yaml"
    code, out, err = _run([TAG, "-f", str(ROOT / "docker-compose.yaml"), "-o", str(output)], capsys)
    assert code == 0, err
    text = output.read_text(encoding="utf-8")
    _check_golden(GOLDEN / "project.omni.yaml", text)
    for name in ("migrations", "server", "worker", "scale-to-zero", "flow-runner"):
        assert f"ghcr.io/experio-ai/experio-dockerfile.{name}:{TAG}" in text
    assert ":latest" not in text
    assert "pinned" in out


# ------------------------------------------------------------------------------- semantics


def test_build_inherited__every_merging_service_gets_its_own_image() -> None:
    """The anchor loses build; each service that inherited it now owns the right image."""
    from ruamel.yaml import YAML

    result = render((GOLDEN / "build_inherited.yaml").read_text(), Options(tag=TAG))
    data = YAML(typ="safe", pure=True).load(result.text)
    images = {name: svc["image"] for name, svc in data["services"].items()}
    prefix = "ghcr.io/experio-ai/experio-dockerfile."
    assert images == {
        "worker": f"{prefix}worker:{TAG}",
        "worker-ingest": f"{prefix}worker:{TAG}",
        "worker-own-build": f"{prefix}ingest:{TAG}",
        "initdb": f"{prefix}migrations:{TAG}",
        "migrate-only": f"{prefix}migrations:{TAG}",
    }
    assert "build" not in data["x-migrations"]
    # What the services inherit besides build is still there.
    assert data["services"]["worker-ingest"]["command"] == ["celery", "-Q", "ingest"]
    assert data["services"]["initdb"]["restart"] == "no"


def test_build_and_image__replaced_in_place_never_duplicated() -> None:
    result = render((GOLDEN / "build_and_image.yaml").read_text(), Options(tag=TAG))
    assert find_duplicate_keys(result.text) == []
    assert result.text.count("image:") == 2
    assert f'image: "ghcr.io/experio-ai/experio-dockerfile.download:{TAG}"' in result.text


def test_regenerate_from_output__idempotent() -> None:
    first = render((ROOT / "docker-compose.yaml").read_text(), Options(tag=TAG))
    second = render(first.text, Options(tag=TAG))
    assert second.text == first.text
    assert second.changes == []


def test_find_duplicate_keys__both_lines_and_path() -> None:
    text = "services:\n  a:\n    image: x:1\n    ports: []\n    image: x:2\n"
    [dup] = find_duplicate_keys(text)
    assert (dup.key, dup.first_line, dup.second_line, dup.path) == ("image", 3, 5, "services.a")
    assert str(dup) == 'line 5: duplicate key "image" in services.a (first defined at line 3)'


def test_sidecar_options__registry_prefix_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    source = (
        "services:\n"
        "  app:\n"
        "    build: {context: ., dockerfile: Dockerfile.app}\n"
        "  helper:\n"
        "    image: registry.example.com:5000/acme/img-helper:latest\n"
    )
    options = Options(
        tag=TAG, registry="registry.example.com:5000/acme", name_prefix="img-", sidecars=("helper",)
    )
    result = render(source, options)
    assert f"image: registry.example.com:5000/acme/img-app:{TAG}" in result.text
    assert f"image: registry.example.com:5000/acme/img-helper:{TAG}" in result.text
    # With the default sidecar list the helper is an Experio image nobody pins: refused.
    with pytest.raises(InvalidComposeError) as excinfo:
        render(source, Options(tag=TAG, registry=options.registry, name_prefix="img-"))
    assert any("img-helper:latest" in p for p in excinfo.value.problems)


def test_secrets__declared_with_flag_and_required_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = GOLDEN / "secrets.yaml"
    code, _, err = _run(
        [
            TAG,
            "-f",
            str(source),
            "-o",
            "-",
            "--secret",
            "openaiKey",
            "--require-secret",
            "initdb=neo4jPassword,initdb=openaiKey",
        ],
        capsys,
    )
    assert code == 0, err
    code, _, err = _run([TAG, "-f", str(source), "-o", "-", "--require-secret", "initdb"], capsys)
    assert code == 2 and "SERVICE=SECRET" in err


# The secrets the release needs besides the graph passwords (no .env on Omnistrate): which
# service takes which through which variable. DEFAULT_REQUIRED_SECRETS must hold each pair.
RELEASE_SECRETS = [
    ("initdb", "DJANGO_SUPERUSER_PASSWORD", "superuserPassword"),
    ("initdb", "DJANGO_SECRET_KEY", "djangoSecretKey"),
    ("initdb", "EXPERIO_ENCRYPTION_KEYS", "encryptionKey"),
    ("server", "DJANGO_SECRET_KEY", "djangoSecretKey"),
    ("server", "EXPERIO_ENCRYPTION_KEYS", "encryptionKey"),
]


def test_project_secrets__generated_release_references_each_in_its_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ruamel.yaml import YAML

    from experio_platform.deploy.generator import DEFAULT_REQUIRED_SECRETS, DEFAULT_SECRETS

    output = tmp_path / "docker-compose.omni.yaml"
    code, _, err = _run([TAG, "-f", str(ROOT / "docker-compose.yaml"), "-o", str(output)], capsys)
    assert code == 0, err
    services = YAML(typ="safe", pure=True).load(output.read_text())["services"]  # merges resolved
    for service, variable, secret in RELEASE_SECRETS:
        assert secret in DEFAULT_SECRETS and (service, secret) in DEFAULT_REQUIRED_SECRETS
        assert f"$secret.{secret}" in services[service]["environment"][variable], (service, secret)
    # Every Django container shares the server's two (the anchor), not only the required ones.
    for name in ("worker", "beat", "scale-to-zero", "reader", "cleanup"):
        env = services[name]["environment"]
        assert env["DJANGO_SECRET_KEY"] == "$secret.djangoSecretKey", name
        assert env["EXPERIO_ENCRYPTION_KEYS"] == "passphrase:$secret.encryptionKey", name


@pytest.mark.parametrize(("service", "variable", "secret"), RELEASE_SECRETS)
def test_project_secrets__one_removed_is_exit_1_naming_service_and_secret(
    service: str,
    variable: str,
    secret: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A service that overrides the variable with a plain value (or loses the line) no longer
    takes the secret: exit 1 with exactly that service and secret, nothing written."""
    text = (ROOT / "docker-compose.yaml").read_text()
    if (service, variable) == ("initdb", "DJANGO_SUPERUSER_PASSWORD"):
        line = "      DJANGO_SUPERUSER_PASSWORD: $secret.superuserPassword\n"
        assert text.count(line) == 1
        text = text.replace(line, "")
    elif service == "initdb":  # its own environment merges the anchor's: override one key
        line = "      FALKOR_PASSWORD: $secret.falkordbPassword\n"
        assert text.count(line) == 1
        text = text.replace(line, f"{line}      {variable}: plain-value\n")
    else:  # the server inherits the anchor's environment: give it its own, overriding one key
        line = '      - "${EXPERIO_HTTP_PORT:-8000}:8000"\n'
        assert text.count(line) == 1
        override = f"    environment:\n      <<: *experio-env\n      {variable}: plain-value\n"
        text = text.replace(line, line + override)
    source = tmp_path / "docker-compose.yaml"
    source.write_text(text)
    output = tmp_path / "docker-compose.omni.yaml"
    code, _, err = _run([TAG, "-f", str(source), "-o", str(output)], capsys)
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert problems == [
        f"  - services.{service}: must take a value from the Omnistrate secret "
        f"$secret.{secret} but does not reference it"
    ], err
    assert not output.exists()


# ------------------------------------------------------------------------------- TAG


@pytest.mark.parametrize(
    "bad",
    [
        "latest",
        "1.4.2",
        "v1.4.2",
        "${TAG}",
        "sha-0123456",  # short form without --allow-short-sha
        "sha-" + "A" * 40,  # uppercase hex is not what git or metadata-action print
        "sha-" + "0" * 39,
        "sha-" + "0" * 41,
        "0123456789abcdef0123456789abcdef01234567",
        "sha-0123456789abcdef0123456789abcdef01234567\n",
    ],
)
def test_tag__rejected_exit_2(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([bad, "-f", str(GOLDEN / "merge_single.yaml"), "-o", "-"], capsys)
    assert code == 2
    assert "is not an immutable commit tag" in err
    assert out == ""


def test_tag__short_sha_only_with_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidTagError, match="--allow-short-sha"):
        validate_tag("sha-0123abc")
    validate_tag("sha-0123abc", allow_short_sha=True)
    code, out, _ = _run(
        ["sha-0123abc", "--allow-short-sha", "-f", str(GOLDEN / "merge_single.yaml"), "-o", "-"],
        capsys,
    )
    assert code == 0
    assert "experio-dockerfile.server:sha-0123abc" in out


# ------------------------------------------------------------------------------- writing


def test_write__replaces_previous_output_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "docker-compose.omni.yaml"
    output.write_text("old\n", encoding="utf-8")
    output.chmod(0o640)
    inode = output.stat().st_ino
    with output.open(encoding="utf-8") as reader:  # e.g. `omctl build` reading the old release
        code, _, err = _run([TAG, "-f", str(GOLDEN / "profiles.yaml"), "-o", str(output)], capsys)
        # Renamed into place: a new file (inode); an open reader still sees the whole old text.
        assert reader.read() == "old\n"
    assert code == 0, err
    assert output.stat().st_ino != inode
    assert output.read_text(encoding="utf-8").startswith("# Generated by experio-omni-compose")
    assert output.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["docker-compose.omni.yaml"]


def test_write_atomic__verification_failure_leaves_previous_file(tmp_path: Path) -> None:
    """The temp file is re-read and verified before the rename; a bad text never lands."""
    output = tmp_path / "docker-compose.omni.yaml"
    output.write_text("previous\n", encoding="utf-8")
    bad = "services:\n  a:\n    image: postgres\n"
    with pytest.raises(InvalidComposeError):
        write_atomic(output, bad, Options(tag=TAG))
    assert output.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["docker-compose.omni.yaml"]


def test_verify__duplicate_keys_in_written_text_listed_with_lines() -> None:
    """What a line-by-line rewrite (the old text substitution, build-from-repo) can produce:
    the self-check on the text names both lines, not just "not valid YAML"."""
    text = (
        "services:\n"
        "  server:\n"
        f"    image: ghcr.io/experio-ai/experio-dockerfile.server:{TAG}\n"
        "    command: run\n"
        f"    image: ghcr.io/experio-ai/experio-dockerfile.server:{TAG}\n"
    )
    with pytest.raises(InvalidComposeError) as excinfo:
        verify(text, Options(tag=TAG))
    assert excinfo.value.problems == [
        'output: line 5: duplicate key "image" in services.server (first defined at line 3)'
    ]


def test_write__unwritable_target_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "missing-dir" / "out.yaml"
    code, _, err = _run([TAG, "-f", str(GOLDEN / "profiles.yaml"), "-o", str(output)], capsys)
    assert code == 1
    assert "cannot write" in err


def test_check__valid_absent_same_and_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "docker-compose.omni.yaml"
    args = [TAG, "-f", str(GOLDEN / "sidecars.yaml"), "-o", str(output)]
    assert _run([*args, "--check"], capsys)[0] == 0
    assert not output.exists(), "--check must not write"
    assert _run(args, capsys)[0] == 0
    assert _run([*args, "--check"], capsys)[0] == 0
    output.write_text(output.read_text() + "# hand edit\n", encoding="utf-8")
    code, out, _ = _run([*args, "--check"], capsys)
    assert code == 3 and "out of date" in out
    assert output.read_text().endswith("# hand edit\n")
    bad = [TAG, "-f", str(GOLDEN / "bad_images.yaml"), "-o", str(output), "--check"]
    assert _run(bad, capsys)[0] == 1


# ------------------------------------------------------------------------------- CLI


def test_cli__help_usage_and_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for text in ("TAG", "--allow-short-sha", "--check", "exit codes:", "--sidecar", "--secret"):
        assert text in out
    assert _run([], capsys)[0] == 2
    assert _run([TAG, "--no-such-flag"], capsys)[0] == 2
    code, _, err = _run([TAG, "-f", "/nonexistent/docker-compose.yaml"], capsys)
    assert code == 2 and "cannot read" in err
    code, _, err = _run([TAG, "--registry", "GHCR.io/Experio AI", "-o", "-"], capsys)
    assert code == 2 and "does not make valid image names" in err


def test_cli__entry_points_and_shim(tmp_path: Path) -> None:
    """`python -m`, the console script and scripts/generate_omni_compose.py all run main()."""
    bindir = Path(sys.executable).parent
    source = str(GOLDEN / "merge_single.yaml")
    commands = [
        [sys.executable, "-m", "experio_platform.deploy", TAG, "-f", source, "-o", "a.yaml"],
        [str(bindir / "experio-omni-compose"), TAG, "-f", source, "-o", "b.yaml"],
        [
            sys.executable,
            str(ROOT / "scripts" / "generate_omni_compose.py"),
            TAG,
            "-f",
            source,
            "-o",
            "c.yaml",
        ],
    ]
    for command in commands:
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    texts = {p.read_text() for p in tmp_path.glob("*.yaml")}
    assert len(texts) == 1
    bad = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_omni_compose.py"), "latest", "-o", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2


def test_cli__without_ruamel_is_a_usage_error() -> None:
    """A python3 without ruamel.yaml (the shim run outside the venv) gets exit 2 and a hint,
    not a traceback."""
    code = (
        "import sys; sys.modules['ruamel'] = None; sys.modules['ruamel.yaml'] = None;"
        "from experio_platform.deploy import main;"
        f"sys.exit(main([{TAG!r}, '-f', {str(GOLDEN / 'merge_single.yaml')!r}, '-o', '-']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "needs ruamel.yaml" in done.stderr and "Traceback" not in done.stderr


def test_exit_codes__same_as_the_seed_commands() -> None:
    from experio_platform import reporting
    from experio_platform.deploy import cli

    for name in ("EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_PENDING"):
        assert getattr(cli, name) == getattr(reporting, name), name


def test_import__no_django_no_side_effects() -> None:
    code = (
        "import sys, os; before = dict(os.environ);"
        "import experio_platform.deploy, experio_platform.deploy.generator;"
        "assert 'django' not in sys.modules, 'django imported';"
        "assert dict(os.environ) == before"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("text", "name", "tag", "digest"),
    [
        ("postgres:15-alpine", "postgres", "15-alpine", None),
        (
            "ghcr.io/experio-ai/experio-dockerfile.server:sha-1",
            "ghcr.io/experio-ai/experio-dockerfile.server",
            "sha-1",
            None,
        ),
        ("localhost:5000/a/b", "localhost:5000/a/b", None, None),
        ("redis@sha256:" + "a" * 64, "redis", None, "sha256:" + "a" * 64),
        ("[::1]:5000/x:y", "[::1]:5000/x", "y", None),
    ],
)
def test_parse_reference__valid(text: str, name: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.name, ref.tag, ref.digest) == (name, tag, digest)


@pytest.mark.parametrize(
    "text", ["", "Redis:7", "redis:", "redis:-x", "a//b", "redis@sha256:abc", "x:" + "t" * 129]
)
def test_parse_reference__invalid(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


# ------------------------------------------------------------------------------- property


_DOLLAR_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ_.-:/ ${}?+'\"#")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s and s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_DOLLAR_TEXT, min_size=1, max_size=4))
def test_property__environment_strings_are_copied_byte_for_byte(values: list[str]) -> None:
    """Whatever the $-string and whatever quoting ruamel picked for it, the line is unchanged."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    doc = {
        "services": {
            "app": {
                "build": {"context": ".", "dockerfile": "Dockerfile.app"},
                "environment": {f"V{i}": value for i, value in enumerate(values)},
            }
        }
    }
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    source = buffer.getvalue()
    result = render(source, Options(tag=TAG, required_secrets=(), schema_path=None))
    env_lines = [line for line in source.splitlines() if line.startswith("    V")]
    out_lines = result.text.splitlines()
    for line in env_lines:
        assert line in out_lines
    assert YAML(typ="safe").load(result.text)["services"]["app"]["environment"] == {
        f"V{i}": value for i, value in enumerate(values)
    }


# ------------------------------------------------------------------------------- edge cases


def _images(text: str) -> dict[str, str]:
    from ruamel.yaml import YAML

    services = YAML(typ="safe", pure=True).load(text)["services"]
    return {name: service.get("image") for name, service in services.items()}


def test_edge__nested_merges_and_merge_not_first() -> None:
    """build three merges deep; a << that is not the first key keeps its place."""
    source = (
        "x-a: &a\n"
        "  build: {context: ., dockerfile: Dockerfile.base}\n"
        "x-b: &b\n"
        "  <<: *a\n"
        "  restart: always\n"
        "services:\n"
        "  deep:\n"
        "    command: run\n"
        "    <<: *b\n"
        "    ports: []\n"
    )
    result = render(source, Options(tag=TAG))
    assert _images(result.text) == {"deep": f"ghcr.io/experio-ai/experio-dockerfile.base:{TAG}"}
    body = result.text.split("services:\n", 1)[1]
    assert body.splitlines() == [
        "  deep:",
        "    command: run",
        "    <<: *b",
        f"    image: ghcr.io/experio-ai/experio-dockerfile.base:{TAG}",
        "    ports: []",
    ]


def test_edge__build_through_alias_and_flow_service() -> None:
    source = (
        "x-build: &server-build\n"
        "  context: .\n"
        "  dockerfile: Dockerfile.server\n"
        "services:\n"
        "  a:\n"
        "    build: *server-build\n"
        "  b: {build: *server-build, command: x}\n"
    )
    result = render(source, Options(tag=TAG))
    image = f"ghcr.io/experio-ai/experio-dockerfile.server:{TAG}"
    assert _images(result.text) == {"a": image, "b": image}
    assert "x-build: &server-build" in result.text  # an extension, not a build key: kept


def test_edge__unused_anchor_with_build_is_reported() -> None:
    """No build anywhere: a build left in an x- anchor nobody merges fails the self-check."""
    source = (
        "x-unused: &unused\n"
        "  build: {context: ., dockerfile: Dockerfile.old}\n"
        "services:\n"
        "  a:\n"
        "    image: redis:7\n"
    )
    with pytest.raises(InvalidComposeError) as excinfo:
        render(source, Options(tag=TAG))
    assert excinfo.value.problems == ["x-unused: still has build (Omnistrate never builds)"]


def test_edge__sidecar_image_inherited_from_service_anchor() -> None:
    source = (
        "services:\n"
        "  scaler: &scaler\n"
        "    image: ghcr.io/experio-ai/experio-dockerfile.scale-to-zero:latest\n"
        "  scaler-2:\n"
        "    <<: *scaler\n"
        "    command: again\n"
    )
    result = render(source, Options(tag=TAG))
    image = f"ghcr.io/experio-ai/experio-dockerfile.scale-to-zero:{TAG}"
    assert _images(result.text) == {"scaler": image, "scaler-2": image}
    assert [c.where for c in result.changes] == ["scaler"]


def test_edge__replaced_values_keep_the_gap_before_their_comment() -> None:
    """An image replaced in place by a longer one keeps its end-of-line comment where the author
    put it relative to the value (ruamel alone cuts the gap to one space)."""
    source = (
        "services:\n"
        "  s:\n"
        "    image: ghcr.io/experio-ai/experio-dockerfile.scale-to-zero:latest  # sidecar\n"
        "    x-omnistrate-capabilities:\n"
        "      sidecars:\n"
        "        f:\n"
        "          imageNameWithTag: ghcr.io/experio-ai/experio-dockerfile.flow-runner:1   # 3\n"
        "  b:\n"
        "    build: {context: ., dockerfile: Dockerfile.b}\n"
        "    image: 'b:1'  # two\n"
    )
    lines = render(source, Options(tag=TAG)).text.splitlines()
    sidecar = "ghcr.io/experio-ai/experio-dockerfile.scale-to-zero"
    assert f"    image: {sidecar}:{TAG}  # sidecar" in lines
    assert (
        f"          imageNameWithTag: ghcr.io/experio-ai/experio-dockerfile.flow-runner:{TAG}   # 3"
        in lines
    )
    assert f"    image: 'ghcr.io/experio-ai/experio-dockerfile.b:{TAG}'  # two" in lines


def test_edge__empty_or_missing_services_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    for source in ("services: {}\n", "x-a: 1\n", "", "---\na: 1\n---\nb: 2\n"):
        with pytest.raises(InvalidComposeError):
            render(source, Options(tag=TAG))


def test_cli__json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    output = tmp_path / "out.yaml"
    code, out, _ = _run(
        [TAG, "-f", str(GOLDEN / "sidecars.yaml"), "-o", str(output), "--json"], capsys
    )
    report = json.loads(out)
    assert (code, report["status"], report["exit_code"]) == (0, "written", 0)
    assert {c["action"] for c in report["changes"]} == {"pinned", "repinned"}
    code, out, _ = _run(
        [TAG, "-f", str(GOLDEN / "bad_depends.yaml"), "-o", str(output), "--json"], capsys
    )
    report = json.loads(out)
    assert (code, report["status"]) == (1, "invalid")
    assert "services.worker.depends_on: unknown service 'queue'" in report["problems"]
    code, out, _ = _run(["latest", "-f", str(GOLDEN / "sidecars.yaml"), "--json"], capsys)
    assert (code, json.loads(out)["status"]) == (2, "usage")
