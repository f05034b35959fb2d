"""The one report shape shared by the seed-like commands (seed_config, seed_autoscaling_config,
initdb): a line per item ``NAME  ACTION  SOURCE  OLD -> NEW``, a summary of counts last, and the
same content as JSON for machines. Secret values never reach a report: callers pass masked text.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from django.core.management.base import BaseCommand, CommandParser

Action = Literal["created", "updated", "unchanged", "skipped", "drift", "error", "deleted"]
ACTIONS: tuple[str, ...] = (
    "created",
    "updated",
    "unchanged",
    "skipped",
    "drift",
    "error",
    "deleted",
)

# Exit codes shared by every command (../shared/CONVENTIONS.md).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PENDING = 3


@dataclass(frozen=True)
class ReportLine:
    """One item of a seed report. ``old``/``new`` are display strings, already masked."""

    name: str
    action: Action
    source: str = ""
    old: str | None = None
    new: str | None = None
    detail: str = ""
    section: str = ""


@dataclass
class SeedReport:
    """What a seed-like command did (or, with ``dry_run``, would do)."""

    command: str
    dry_run: bool = False
    lines: list[ReportLine] = field(default_factory=list)

    def add(
        self,
        name: str,
        action: Action,
        source: str = "",
        old: str | None = None,
        new: str | None = None,
        detail: str = "",
        section: str = "",
    ) -> ReportLine:
        line = ReportLine(name, action, source, old, new, detail, section)
        self.lines.append(line)
        return line

    def extend(self, other: SeedReport) -> None:
        self.lines.extend(other.lines)

    @property
    def counts(self) -> dict[str, int]:
        seen: Counter[str] = Counter(line.action for line in self.lines)
        return {action: seen.get(action, 0) for action in ACTIONS}

    @property
    def has_errors(self) -> bool:
        return any(line.action == "error" for line in self.lines)

    @property
    def pending(self) -> bool:
        """True when something would change or drifts (what ``--check`` exits 3 for)."""
        return any(line.action in ("created", "updated", "drift", "deleted") for line in self.lines)

    def summary(self) -> str:
        parts = [
            f"{n} {a}"
            for a, n in self.counts.items()
            if n or a in ("created", "updated", "unchanged")
        ]
        prefix = "dry run, nothing written: " if self.dry_run else ""
        return f"{self.command}: {prefix}" + ", ".join(parts)

    def render_text(self) -> str:
        width = max([len(line.name) for line in self.lines] + [4])
        out = []
        for line in self.lines:
            change = ""
            if line.old is not None or line.new is not None:
                old = "-" if line.old is None else line.old
                new = "-" if line.new is None else line.new
                change = f"{old} -> {new}"
            row = (
                f"{line.name:<{width}}  {line.action.upper():<9}  {line.source or '-':<8}  {change}"
            )
            if line.detail:
                row += f"  ({line.detail})"
            out.append(row.rstrip())
        out.append(self.summary())
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "command": self.command,
            "dry_run": self.dry_run,
            "items": [asdict(line) for line in self.lines],
            "counts": self.counts,
        }

    def render_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def add_report_arguments(
    parser: CommandParser,
    *,
    dry_run_help: str = "Print the plan, write nothing.",
    check_help: str = "Like --dry-run; exit 3 when changes are pending.",
) -> None:
    """Add the flags every seed-like command shares: ``--dry-run``, ``--check``, ``--json``."""
    parser.add_argument("--dry-run", action="store_true", help=dry_run_help)
    parser.add_argument("--check", action="store_true", help=check_help)
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")


def emit(
    command: BaseCommand,
    report: SeedReport,
    *,
    as_json: bool,
    check: bool,
    failed: str,
    pending: str = "Pending changes (--check).",
) -> None:
    """Print ``report`` for a seed-like command and end it with the shared exit code.

    Raises:
        CommandError: exit 1 with ``failed`` when a line is an error (the command wrote
            nothing), exit 3 with ``pending`` under ``--check`` when something would change.
    """
    # Imported here: the report types are also used where Django is not (the deploy CLI).
    from django.core.management.base import CommandError

    command.stdout.write(report.render_json() if as_json else report.render_text())
    if report.has_errors:
        raise CommandError(failed, returncode=EXIT_FAILED)
    if check and report.pending:
        raise CommandError(pending, returncode=EXIT_PENDING)
