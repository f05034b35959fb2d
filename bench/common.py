"""What every benchmark shares: rewriting only its own section of docs/BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


def write_section(heading: str, text: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) only the ``## {heading}`` section of ``path`` with ``text``."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    match = re.search(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", current, flags=re.S | re.M)
    if match:
        rest = current[match.end() :]
        section = text.rstrip("\n") + ("\n\n" if rest else "\n")
        updated = current[: match.start()] + section + rest
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.write_text(updated)


def replace_table(heading: str, table: str, path: Path = BENCHMARKS) -> None:
    """Replace the first Markdown table inside ``## {heading}``, keeping the prose around it."""
    current = path.read_text()
    match = re.search(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", current, flags=re.S | re.M)
    if not match:
        write_section(heading, f"## {heading}\n\n{table}\n", path)
        return
    new_table = table.rstrip("\n") + "\n"
    section = re.sub(r"(?:^\|.*\n)+", new_table, match.group(0), count=1, flags=re.M)
    path.write_text(current[: match.start()] + section + current[match.end() :])
