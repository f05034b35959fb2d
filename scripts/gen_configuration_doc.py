#!/usr/bin/env python
"""Regenerate the EXPERIO_PLATFORM table of docs/configuration.md from experio_platform/conf.py.

The table is built from the DEFAULTS dict itself (keys, default values) and the comments beside
each key, so the reference cannot drift from the code: tests/test_docs.py fails when the file is
stale. Usage: ``python scripts/gen_configuration_doc.py [--check]`` (exit 3 when stale).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "experio_platform" / "conf.py"
DOC = ROOT / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN GENERATED: scripts/gen_configuration_doc.py -->"
END = "<!-- END GENERATED -->"
SECTION = re.compile(r"#\s*-{2,}\s*(?P<title>[^(-]+?)\s*(\((?P<where>[^)]*)\))?\s*-*$")


def _comments(source: str) -> dict[int, str]:
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string.lstrip("#").strip()
    return found


def rows() -> list[tuple[str, str, str, str]]:
    """(section, key, default, meaning) for every DEFAULTS key, in source order."""
    source = CONF.read_text()
    lines = source.splitlines()
    comments = _comments(source)
    tree = ast.parse(source)
    node = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.AnnAssign | ast.Assign)
        and getattr(getattr(n, "target", None) or n.targets[0], "id", "") == "DEFAULTS"
    )
    assert isinstance(node, ast.Dict)
    out = []
    section = ""
    prev_end = node.lineno
    for key, value in zip(node.keys, node.values, strict=True):
        assert isinstance(key, ast.Constant)
        before = []
        for lineno in range(prev_end + 1, key.lineno):
            text = lines[lineno - 1].strip()
            match = SECTION.match(text)
            if match:
                section = match.group("title").strip()
                before = []
            elif lineno in comments:
                before.append(comments[lineno])
        trailing = [comments[n] for n in range(key.lineno, value.end_lineno + 1) if n in comments]
        default = " ".join(ast.get_source_segment(source, value).split())
        default = default.replace("{ ", "{").replace(", }", "}").replace(",}", "}")
        meaning = " ".join(before + trailing).replace("|", "\\|")
        out.append((section, key.value, default, meaning))
        prev_end = value.end_lineno
    return out


def render() -> str:
    parts = [BEGIN]
    current = None
    for section, key, default, meaning in rows():
        if section != current:
            parts += [
                "",
                f"### {section[:1].upper()}{section[1:]}",
                "",
                "| key | default | meaning |",
                "|---|---|---|",
            ]
            current = section
        parts.append(f"| `{key}` | `{default}` | {meaning} |")
    parts += ["", END]
    return "\n".join(parts)


def updated(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + render() + tail


def main(argv: list[str]) -> int:
    current = DOC.read_text()
    new = updated(current)
    if "--check" in argv:
        if new != current:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/gen_configuration_doc.py")
            return 3
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
