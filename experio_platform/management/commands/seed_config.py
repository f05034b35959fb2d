"""``manage.py seed_config``: bring the settings store to the desired values (docs/config.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from experio_platform.config.crypto import DecryptionError
from experio_platform.config.seed import parse_assignments, rotate_keys, seed_config
from experio_platform.config.system_checks import enforce_encryption_keys
from experio_platform.exceptions import ConfigurationError
from experio_platform.reporting import EXIT_FAILED, EXIT_USAGE, add_report_arguments, emit


class Command(BaseCommand):
    help = (
        "Seed the settings store: --set KEY=VALUE > environment (VAR, VAR_FILE) > registry "
        "default. Creates missing keys, updates env-managed keys, reports DRIFT where an "
        "operator's value disagrees. Run with --force after every upgrade. Exit codes: 0 ok, "
        "1 invalid values (nothing written), 2 usage/configuration error, 3 --check found "
        "pending changes or drift."
    )

    # Other apps' checks (and E033 on the devsite's env-filled CONFIG_OVERRIDES) must not pre-empt
    # seed_config's own validation, which lists every bad value by key and variable; the one
    # check that guards what it writes (encryption keys) runs in handle().
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            dest="set_values",
            help="Set KEY to VALUE (repeatable); wins over the environment and the admin.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Write the desired value of every key in scope (run after upgrades). Values "
            "set in the admin or with --set are kept and reported as DRIFT unless "
            "--override-admin. Never deletes.",
        )
        parser.add_argument(
            "--override-admin",
            action="store_true",
            help="Also overwrite values an operator set in the admin or with --set.",
        )
        parser.add_argument(
            "--only",
            action="append",
            metavar="KEY",
            help="Seed only this key (repeatable; commas also accepted).",
        )
        parser.add_argument(
            "--namespace",
            action="append",
            metavar="NS",
            help="Seed only keys of this namespace (graph, llm, mcp, platform, ...).",
        )
        parser.add_argument(
            "--prune", action="store_true", help="Delete rows of keys no longer in the registry."
        )
        parser.add_argument(
            "--rotate-keys",
            action="store_true",
            help="Re-encrypt every secret under the first ENCRYPTION_KEYS key (nothing else).",
        )
        add_report_arguments(
            parser, check_help="Like --dry-run; exit 3 when changes or drift are pending."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        dry_run = opts["dry_run"] or opts["check"]
        try:
            enforce_encryption_keys(self.stderr.write)
            if opts["rotate_keys"]:
                if opts["set_values"] or opts["only"] or opts["namespace"] or opts["prune"]:
                    raise CommandError(
                        "--rotate-keys runs alone (with --dry-run/--check/--json only).",
                        returncode=EXIT_USAGE,
                    )
                report = rotate_keys(dry_run=dry_run)
            else:
                report = seed_config(
                    set_values=parse_assignments(opts["set_values"]),
                    force=opts["force"],
                    override_admin=opts["override_admin"],
                    only=opts["only"],
                    namespaces=opts["namespace"],
                    prune=opts["prune"],
                    dry_run=dry_run,
                )
        except DecryptionError as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILED) from exc
        except DatabaseError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(
                f"Cannot read or write the settings store: {first}. Check the database settings "
                "and run `manage.py migrate` (or `manage.py initdb`) first; nothing was written.",
                returncode=EXIT_FAILED,
            ) from exc
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        emit(
            self,
            report,
            as_json=opts["json"],
            check=opts["check"],
            failed="Errors listed above (invalid values by key and variable, undecryptable "
            "secrets by key); nothing was written.",
            pending="Pending changes or drift (--check).",
        )
