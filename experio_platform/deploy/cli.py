"""``experio-omni-compose``: the command line of the pinned Omnistrate compose generator."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from experio_platform.exceptions import ConfigurationError

from .generator import (
    DEFAULT_NAME_PREFIX,
    DEFAULT_REGISTRY,
    DEFAULT_REQUIRED_SECRETS,
    DEFAULT_SECRETS,
    DEFAULT_SIDECARS,
    InvalidComposeError,
    Options,
    Result,
    render,
    write_atomic,
)
from .references import InvalidReference, parse_reference

# The conventions' exit codes (CONVENTIONS.md; experio_platform.reporting has the same for the
# manage.py commands). Not imported from there: reporting serves Django commands and may import
# Django, and the generator must run without it (CI's deploy job, the seed's shim).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PENDING = 0, 1, 2, 3

DESCRIPTION = """\
Turn docker-compose.yaml into docker-compose.omni.yaml for `omctl build`: every service that
builds a Dockerfile.<suffix> loses `build` and gets `image: <registry>/<prefix><suffix>:TAG`
(an existing image: is replaced in place, also when build is inherited through a << merge);
the server sidecars' images are re-pinned to TAG in services.*.image and
x-omnistrate-capabilities.sidecars.*.imageNameWithTag. Nothing is interpolated: ${VAR:-x}, $$,
$secret.NAME, $var.x and {{ $sys... }} are copied byte for byte. The written text is re-parsed
and checked (no duplicate keys, no build, every image valid, tagged, not :latest, Experio images
exactly :TAG, depends_on targets exist, Omnistrate secrets declared, compose JSON schema) before
it atomically replaces the output file.
"""

EPILOG = """\
exit codes:
  0  written (or, with --check, valid and the output file is up to date or absent)
  1  invalid input or output: duplicate keys, a build without Dockerfile.<suffix>, an unpinned,
     untagged or :latest image, an undeclared or missing secret, a schema error;
     the output file is left untouched
  2  usage: bad TAG (not sha-<40 hex>), bad flag, unreadable input file
  3  --check: valid, but the existing output file differs from what would be written

secrets (there is no .env on Omnistrate: create each with `omctl secret create` in every
environment before `omctl build`; docs/deploy.md):
  neo4jPassword, falkordbPassword  the graph servers' passwords, seeded into the store by initdb
  superuserPassword                DJANGO_SUPERUSER_PASSWORD of initdb's admin; must pass the
                                   host's AUTH_PASSWORD_VALIDATORS
  djangoSecretKey                  DJANGO_SECRET_KEY of every Django container
  encryptionKey                    EXPERIO_ENCRYPTION_KEYS=passphrase:<value> of every Django
                                   container: random, 16+ characters, no commas

examples:
  experio-omni-compose sha-$(git rev-parse HEAD)
  experio-omni-compose "sha-$GITHUB_SHA" -f docker-compose.yaml -o docker-compose.omni.yaml
  experio-omni-compose sha-0123456 --allow-short-sha --check
  python -m experio_platform.deploy sha-$(git rev-parse HEAD) -o - | less
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() returns its code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigurationError(f"{self.prog}: {message}", hint=f"See {self.prog} --help.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="experio-omni-compose",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("tag", metavar="TAG", help="the immutable image tag: sha-<40 hex git sha>")
    parser.add_argument(
        "-f",
        "--file",
        default="docker-compose.yaml",
        type=Path,
        help="the source compose file (default: %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="docker-compose.omni.yaml",
        help="where to write; '-' prints to stdout (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate and compare with the existing output file; write nothing",
    )
    parser.add_argument(
        "--allow-short-sha",
        action="store_true",
        help="also accept sha-<7 hex>, the short form docker/metadata-action emits by default",
    )
    parser.add_argument(
        "--registry",
        default=DEFAULT_REGISTRY,
        help="registry and namespace of the Experio images (default: %(default)s)",
    )
    parser.add_argument(
        "--name-prefix",
        default=DEFAULT_NAME_PREFIX,
        help="image name before the Dockerfile suffix (default: %(default)s)",
    )
    parser.add_argument(
        "--sidecar",
        action="append",
        metavar="NAME",
        help="suffix of a sidecar image to re-pin; repeatable, commas accepted; replaces the "
        f"default list ({', '.join(DEFAULT_SIDECARS)})",
    )
    parser.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        help="an Omnistrate secret that exists (omctl secret create); repeatable, commas "
        f"accepted; added to the defaults ({', '.join(DEFAULT_SECRETS)})",
    )
    parser.add_argument(
        "--require-secret",
        action="append",
        metavar="SERVICE=SECRET",
        help="a service that must reference $secret.SECRET; repeatable; replaces the defaults ("
        + ", ".join(f"{s}={n}" for s, n in DEFAULT_REQUIRED_SECRETS)
        + ")",
    )
    parser.add_argument(
        "--schema",
        type=Path,
        help="compose JSON schema to validate against (default: the copy vendored by "
        "check-jsonschema; skipped with a note when that is not installed)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report (or the error) as one JSON object"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return parser


def _split(values: list[str] | None) -> list[str]:
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def options_from_args(args: argparse.Namespace) -> Options:
    """Build the generator's Options from parsed arguments.

    Raises:
        ConfigurationError: a malformed --require-secret.
    """
    required: list[tuple[str, str]] = []
    for pair in _split(args.require_secret):
        service, sep, secret = pair.partition("=")
        if not sep or not service or not secret:
            raise ConfigurationError(
                f"--require-secret {pair!r} is not SERVICE=SECRET", hint="e.g. initdb=neo4jPassword"
            )
        required.append((service, secret))
    probe = f"{args.registry.rstrip('/')}/{args.name_prefix}server:latest"
    try:
        parse_reference(probe)
    except InvalidReference as exc:
        raise ConfigurationError(
            f"--registry {args.registry!r} with --name-prefix {args.name_prefix!r} does not make "
            f"valid image names ({probe!r}: {exc})",
            hint="e.g. --registry ghcr.io/experio-ai --name-prefix experio-dockerfile.",
        ) from exc
    return Options(
        tag=args.tag,
        registry=args.registry,
        name_prefix=args.name_prefix,
        sidecars=tuple(_split(args.sidecar)) if args.sidecar else DEFAULT_SIDECARS,
        secrets=tuple(dict.fromkeys([*DEFAULT_SECRETS, *_split(args.secret)])),
        required_secrets=tuple(required) if args.require_secret else DEFAULT_REQUIRED_SECRETS,
        allow_short_sha=args.allow_short_sha,
        schema_path=args.schema,
        source_name=args.file.name,
    )


@dataclass
class _Outcome:
    """What one run did; rendered as text lines or, with --json, as one JSON object."""

    code: int
    status: str  # written, valid, out_of_date, invalid, usage
    message: str = ""
    result: Result | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        changes = [asdict(change) for change in self.result.changes] if self.result else []
        notes = list(self.result.notes) if self.result else []
        return json.dumps(
            {
                "status": self.status,
                "exit_code": self.code,
                "message": self.message,
                "problems": self.problems,
                "changes": changes,
                "notes": notes,
            },
            indent=2,
        )


def _print_text(outcome: _Outcome, out: TextIO, err: TextIO, quiet: bool) -> None:
    if outcome.code in (EXIT_FAILED, EXIT_USAGE):
        print(f"error: {outcome.message}", file=err)
        for problem in outcome.problems:
            print(f"  - {problem}", file=err)
        return
    if quiet or outcome.result is None:
        return
    result = outcome.result
    width = max([len(change.where) for change in result.changes] + [4])
    for change in result.changes:
        print(
            f"{change.where:<{width}}  {change.action.upper():<9}  {change.old} -> {change.new}",
            file=out,
        )
    for note in result.notes:
        print(f"note: {note}", file=out)
    print(
        f"experio-omni-compose: {len(result.changes)} image(s) pinned; {outcome.message}", file=out
    )


def _run(args: argparse.Namespace, out: TextIO) -> _Outcome:
    try:
        options = options_from_args(args)
        try:
            text = args.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read {args.file}: {exc.strerror or exc}",
                hint="Run from the repository root or pass -f PATH.",
            ) from exc
        result = render(text, options)
    except ConfigurationError as exc:
        return _Outcome(EXIT_USAGE, "usage", str(exc))
    except InvalidComposeError as exc:
        return _Outcome(EXIT_FAILED, "invalid", f"{args.file}: {exc}", problems=exc.problems)

    if args.check:
        target = Path(args.output)
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current is not None and current != result.text:
            message = f"{target} is out of date (--check, nothing written)"
            return _Outcome(EXIT_PENDING, "out_of_date", message, result)
        return _Outcome(EXIT_OK, "valid", "valid (--check, nothing written)", result)
    if args.output == "-":
        out.write(result.text)
        return _Outcome(EXIT_OK, "written", "written to stdout", result)
    try:
        write_atomic(Path(args.output), result.text, options)
    except InvalidComposeError as exc:
        return _Outcome(EXIT_FAILED, "invalid", f"{args.output}: {exc}", result, exc.problems)
    except OSError as exc:
        return _Outcome(EXIT_FAILED, "invalid", f"cannot write {args.output}: {exc}", result)
    return _Outcome(EXIT_OK, "written", f"wrote {args.output}", result)


def main(argv: list[str] | None = None) -> int:
    """Run the generator; returns the exit code (0 ok, 1 invalid, 2 usage, 3 --check drift)."""
    out, err = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    outcome = _run(args, out)
    # With -o - stdout carries the compose text, so reports go to stderr.
    report = err if args.output == "-" else out
    if args.json:
        print(outcome.as_json(), file=report)
    else:
        _print_text(outcome, report, err, args.quiet)
    return outcome.code
