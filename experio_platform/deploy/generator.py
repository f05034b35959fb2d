"""docker-compose.yaml -> docker-compose.omni.yaml, every Experio image pinned to its sha tag.

The transformation works on ruamel.yaml's round-trip tree, never on text, so comments, key order,
quoting, anchors and every ``$``-string (``${VAR:-x}``, ``$$``, ``$secret.NAME``, ``$var.x``,
``{{ $sys... }}``) come out byte-identical: nothing is interpolated, only ``build`` and ``image``
nodes change. (A text-substitution predecessor wrote a second ``image:`` key; Omnistrate's
``build-from-repo`` rewrites compose line by line and can do the same.)

The rendered text is then re-parsed from scratch and checked (:func:`verify`) before it replaces
the output file atomically (:func:`write_atomic`).

Merge keys (``<<``) need care: ruamel keeps, per mapping, its own keys (``_ok``) and the list of
merged mappings; the representer writes only the own keys plus the ``<<`` line. A service that
inherits ``build`` from an anchor gets its own ``image:`` (placed right after ``<<``) and the
``build`` key is removed from the anchor itself, because a merge cannot be "un-inherited" without
Compose's ``!reset`` tag, which Omnistrate does not document. Every other service merging that
anchor also has an effective ``build`` and therefore also gets its own ``image:``, computed before
anything is edited, so no service loses its image through the shared anchor. ruamel 0.19's own
``__delitem__``/``insert`` on an anchored mapping crash in ``update_key_value`` (it indexes the
merge list with the 0.17 tuple layout), hence the small helpers below that edit the own keys and
the merge position directly.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experio_platform.exceptions import ConfigurationError, ExperioPlatformError

from .references import InvalidReference, parse_reference

DEFAULT_REGISTRY = "ghcr.io/experio-ai"
DEFAULT_NAME_PREFIX = "experio-dockerfile."
DEFAULT_SIDECARS: tuple[str, ...] = ("scale-to-zero", "flow-runner")
DEFAULT_SECRETS: tuple[str, ...] = (
    "neo4jPassword",
    "falkordbPassword",
    "superuserPassword",
    "djangoSecretKey",
    "encryptionKey",
)
# Services that must take a value from an Omnistrate secret (there is no .env on Omnistrate):
# initdb seeds both graph providers' credentials into the settings store, creates the admin
# (DJANGO_SUPERUSER_PASSWORD; it exits 1 without one) and encrypts under EXPERIO_ENCRYPTION_KEYS;
# the server signs with DJANGO_SECRET_KEY and decrypts the store (with DEBUG off an empty key list
# is system check E030, which stops it); each graph server protects itself with its password.
# Workers, beat and scale-to-zero share the server's environment anchor (tests/deploy checks it).
DEFAULT_REQUIRED_SECRETS: tuple[tuple[str, str], ...] = (
    ("initdb", "neo4jPassword"),
    ("initdb", "falkordbPassword"),
    ("initdb", "superuserPassword"),
    ("initdb", "djangoSecretKey"),
    ("initdb", "encryptionKey"),
    ("server", "djangoSecretKey"),
    ("server", "encryptionKey"),
    ("neo4j", "neo4jPassword"),
    ("falkordb", "falkordbPassword"),
)

_FULL_SHA_TAG = re.compile(r"^sha-[0-9a-f]{40}$")
_SHORT_SHA_TAG = re.compile(r"^sha-[0-9a-f]{7}$")
# `$secret.NAME` as Omnistrate substitutes it; `$$secret` is Compose's escaped dollar, not a use.
_SECRET_REF = re.compile(r"(?<!\$)\$secret\.([A-Za-z_][A-Za-z0-9_-]*)")
_DOCKERFILE_SUFFIX = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
_MERGE_ATTR = "_yaml_merge"  # ruamel.yaml.comments.merge_attrib


class InvalidComposeError(ExperioPlatformError):
    """The input compose file (or the output it would produce) is invalid: exit code 1."""

    def __init__(self, message: str, *, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems or []


class InvalidTagError(ConfigurationError):
    """The TAG argument is not ``sha-<40 hex>`` (or 7 hex with --allow-short-sha): exit code 2."""


@dataclass(frozen=True)
class Options:
    """What the generator pins, to which tag, and what it checks."""

    tag: str
    registry: str = DEFAULT_REGISTRY
    name_prefix: str = DEFAULT_NAME_PREFIX
    sidecars: tuple[str, ...] = DEFAULT_SIDECARS
    secrets: tuple[str, ...] = DEFAULT_SECRETS
    required_secrets: tuple[tuple[str, str], ...] = DEFAULT_REQUIRED_SECRETS
    allow_short_sha: bool = False
    schema_path: Path | None = None
    source_name: str = "docker-compose.yaml"

    @property
    def experio_prefix(self) -> str:
        """The name every Experio image starts with: ``<registry>/<name prefix>``."""
        return f"{self.registry.rstrip('/')}/{self.name_prefix}"

    def experio_image(self, suffix: str) -> str:
        return f"{self.experio_prefix}{suffix}:{self.tag}"


@dataclass(frozen=True)
class Change:
    """One edit the generator made: ``where`` is a service name or a dotted path."""

    where: str
    action: str  # "pinned" (build -> image) or "repinned" (sidecar image)
    old: str
    new: str


@dataclass
class Result:
    """The rendered output text, what changed, and notes worth printing (never fatal)."""

    text: str
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    first_line: int
    second_line: int
    path: str = ""

    def __str__(self) -> str:
        where = f" in {self.path}" if self.path else ""
        return (
            f'line {self.second_line}: duplicate key "{self.key}"{where} '
            f"(first defined at line {self.first_line})"
        )


# --------------------------------------------------------------------------------------------
# TAG


def validate_tag(tag: str, *, allow_short_sha: bool = False) -> None:
    """Accept only the immutable ``sha-<git sha>`` tag CI pushes.

    Raises:
        InvalidTagError: for ``latest``, a version, a ``${...}`` or anything else.
    """
    # fullmatch: re.match with $ would accept a trailing newline.
    if _FULL_SHA_TAG.fullmatch(tag) or (allow_short_sha and _SHORT_SHA_TAG.fullmatch(tag)):
        return
    accepted = "sha-<40 lowercase hex>" + (" or sha-<7 hex>" if allow_short_sha else "")
    hint = "Pass the tag CI pushed for this commit, e.g. sha-$(git rev-parse HEAD)."
    if not allow_short_sha and _SHORT_SHA_TAG.fullmatch(tag):
        hint = "A 7-hex short sha is accepted only with --allow-short-sha."
    raise InvalidTagError(
        f"TAG {tag!r} is not an immutable commit tag: expected {accepted} (never latest, a "
        "version or a variable: a re-pushed mutable tag keeps old images running).",
        hint=hint,
    )


# --------------------------------------------------------------------------------------------
# Parsing


def _yaml_rt(indent: tuple[int, int, int] | None = None) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long command or template string
    if indent is not None:
        mapping, sequence, offset = indent
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def find_duplicate_keys(text: str) -> list[DuplicateKey]:
    """Return every duplicate mapping key in ``text`` with both 1-based line numbers.

    Works on the node graph (the composer does not check keys), so all duplicates are found,
    not only the first one the constructor would trip over.

    Raises:
        InvalidComposeError: when ``text`` is not YAML at all.
    """
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    try:
        root = _yaml_rt().compose(text)
    except MarkedYAMLError as exc:
        raise InvalidComposeError(f"not valid YAML: {exc}") from exc
    found: list[DuplicateKey] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[str, Any]] = [("", root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        if id(node) in seen_nodes:  # aliases share nodes
            continue
        seen_nodes.add(id(node))
        children: list[tuple[str, Any]] = []
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                child = path
                if isinstance(key_node, ScalarNode):
                    line = key_node.start_mark.line + 1
                    child = f"{path}.{key_node.value}" if path else str(key_node.value)
                    if key_node.value in first:
                        found.append(
                            DuplicateKey(key_node.value, first[key_node.value], line, path)
                        )
                    else:
                        first[key_node.value] = line
                children.append((child, value_node))
        elif isinstance(node, SequenceNode):
            children = [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]
        # Depth-first in document order: an anchor is always defined before its aliases, so a
        # duplicate inside an anchored mapping is reported at its definition (x-env.environment),
        # not at the first service that merges it.
        stack.extend(reversed(children))
    found.sort(key=lambda d: d.second_line)
    return found


def _guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file writes its first block nodes.

    ruamel's ``load_yaml_guess_indent`` reports the sequence indent where a file has sequences,
    which re-indents every mapping of a file written with 2/4/2; this looks at both separately.
    """
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    mapping = sequence = offset = None
    stack = [_yaml_rt().compose(text)]
    seen: set[int] = set()
    while stack and (mapping is None or sequence is None):
        node = stack.pop(0)
        if node is None or id(node) in seen or not isinstance(node, MappingNode):
            if isinstance(node, SequenceNode):
                stack.extend(node.value)
            continue
        seen.add(id(node))
        for key_node, value in node.value:
            parent = key_node.start_mark.column
            block = not getattr(value, "flow_style", False)
            if isinstance(value, MappingNode) and block and value.value and mapping is None:
                child = value.value[0][0].start_mark.column
                if child > parent:
                    mapping = child - parent
            if isinstance(value, SequenceNode) and block and value.value and sequence is None:
                dash = value.start_mark.column
                item = value.value[0].start_mark.column
                if item > dash >= parent:
                    offset, sequence = dash - parent, item - parent
            stack.append(value)
    mapping = mapping or 2
    if sequence is None:
        sequence, offset = mapping, 0
    return mapping, sequence, offset or 0


def _load_rt(text: str) -> tuple[Any, Any]:
    """Load ``text`` round-trip; returns (yaml instance with the file's indentation, data)."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    duplicates = find_duplicate_keys(text)
    if duplicates:
        raise InvalidComposeError(
            f"{len(duplicates)} duplicate key(s); remove one of each pair (Compose and "
            "Omnistrate would silently keep the last one)",
            problems=[str(d) for d in duplicates],
        )
    yaml = _yaml_rt(_guess_indent(text))
    try:
        data = yaml.load(text)
    except (MarkedYAMLError, YAMLError) as exc:
        raise InvalidComposeError(f"not valid YAML: {exc}") from exc
    _keep_anchors(data)
    return yaml, data


def _keep_anchors(node: Any) -> None:
    """Keep every ``&anchor`` in the output, also one whose last alias was a removed ``build``.

    ruamel writes an anchor only while something still refers to it; an unreferenced anchor is
    harmless, and keeping it leaves every line we did not mean to change as it was.
    """
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        anchor = getattr(current, "anchor", None)
        if anchor is not None and getattr(anchor, "value", None):
            anchor.always_dump = True
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


# --------------------------------------------------------------------------------------------
# ruamel mapping helpers (own keys vs merged keys)


def _is_map(node: Any) -> bool:
    from ruamel.yaml.comments import CommentedMap

    return isinstance(node, CommentedMap)


def _merge_value(m: Any) -> Any:
    return getattr(m, _MERGE_ATTR, None) or []


def _merge_sources(m: Any) -> list[Any]:
    """The mappings ``m`` merges, in precedence order (the first wins, as YAML 1.1 says)."""
    sources = []
    for item in _merge_value(m):
        # ruamel <= 0.18 stored (position, mapping) tuples, 0.19 stores the mappings.
        sources.append(item[1] if isinstance(item, tuple) else item)
    return sources


def _own_keys(m: Any) -> list[Any]:
    return [key for key, _ in m.non_merged_items()]


def _owns(m: Any, key: str) -> bool:
    return key in _own_keys(m) if _merge_value(m) else key in m


def _own_get(m: Any, key: str) -> Any:
    from ruamel.yaml.compat import ordereddict

    return ordereddict.__getitem__(m, key)


def _lookup(m: Any, key: str, _depth: int = 0) -> tuple[Any, Any] | None:
    """Find ``key`` in ``m`` or what it merges: (the mapping that owns it, its value)."""
    if _depth > 64:
        raise InvalidComposeError("merge keys (<<) nest deeper than 64 levels (a cycle?)")
    if _owns(m, key):
        return m, _own_get(m, key)
    for source in _merge_sources(m):
        if _is_map(source):
            found = _lookup(source, key, _depth + 1)
            if found is not None:
                return found
    return None


def _merge_pos(m: Any) -> int | None:
    value = _merge_value(m)
    if not value:
        return None
    return getattr(value, "merge_pos", None)


def _shift_merge_pos(m: Any, delta: int) -> None:
    value = _merge_value(m)
    if value and hasattr(value, "merge_pos"):
        value.merge_pos += delta


def _refresh_referers(m: Any, key: str) -> None:
    """Keep the merged copies of ``key`` in mappings that merge ``m`` consistent after an edit."""
    from ruamel.yaml.compat import ordereddict

    for referer in list(getattr(m, "_ref", [])):
        if _owns(referer, key):
            continue
        found = None
        for source in _merge_sources(referer):
            if _is_map(source) and key in source:
                found = source[key]
                break
        if found is None:
            if ordereddict.__contains__(referer, key):
                ordereddict.__delitem__(referer, key)
        else:
            ordereddict.__setitem__(referer, key, found)
        _refresh_referers(referer, key)


def _remove_own(m: Any, key: str) -> int:
    """Remove own ``key`` from ``m``; returns its index among the own keys."""
    from ruamel.yaml.compat import ordereddict

    own = _own_keys(m) if _merge_value(m) else list(m.keys())
    pos = own.index(key)
    merge_pos = _merge_pos(m)
    if merge_pos is not None and merge_pos > pos:
        _shift_merge_pos(m, -1)
    m._ok.discard(key)
    ordereddict.__delitem__(m, key)
    _refresh_referers(m, key)
    return pos


def _insert_own(m: Any, pos: int, key: str, value: Any) -> None:
    """Insert own ``key`` at index ``pos`` among the own keys (a ``<<`` at ``pos`` stays first)."""
    from ruamel.yaml.compat import ordereddict

    own = _own_keys(m) if _merge_value(m) else list(m.keys())
    if ordereddict.__contains__(m, key):  # a merged copy would keep its old position
        ordereddict.__delitem__(m, key)
    merge_pos = _merge_pos(m)
    if merge_pos is not None and merge_pos > pos:
        _shift_merge_pos(m, 1)
    ordereddict.__setitem__(m, key, value)
    m._ok.add(key)
    for later in own[pos:]:
        m.move_to_end(later)
    _refresh_referers(m, key)


def _replace_value(m: Any, key: str, value: str) -> None:
    """Set ``m[key]`` in place (same line, same quoting) and keep the gap before its end-of-line
    comment: ruamel writes the comment at its old column, or one space after a value that has
    grown past it, which turned ``image: x:latest  # why`` into ``... # why``."""
    old = m[key]
    m[key] = value
    entry = m.ca.items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    if token is not None and isinstance(old, str) and len(value) > len(old):
        token.column += len(value) - len(old)


def _comment_token(value: str) -> Any:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    return CommentToken(value, CommentMark(0), None)


def _carry_comments(m: Any, old_key: str, old_value: Any, new_key: str) -> None:
    """Keep the comments that hung on a removed ``build`` on the ``image`` that replaces it.

    The end-of-line comment after ``build:`` (or after ``build: .``) becomes the image's; full
    comment lines that followed the build block belong to the next key and are kept too. The
    end-of-line comment of the build block's last inner line is dropped with that line.
    """
    entry = m.ca.items.pop(old_key, None)
    eol = entry[2].value if entry and entry[2] is not None else ""
    following = ""
    if _is_map(old_value) and len(old_value):
        last = list(old_value.keys())[-1]
        inner = old_value.ca.items.get(last)
        if inner and inner[2] is not None:
            lines = inner[2].value.split("\n", 1)
            following = lines[1] if len(lines) > 1 else ""
    if not eol and not following:
        return
    text = (eol if eol.endswith("\n") else eol + "\n") if eol else "\n"
    m.ca.items[new_key] = [None, None, _comment_token(text + following), None]


# --------------------------------------------------------------------------------------------
# Transformation


def _dockerfile_suffix(service: str, build: Any) -> tuple[str, str]:
    """Return (dockerfile as written, image suffix) for a service's effective ``build``."""
    if isinstance(build, str):
        dockerfile = "Dockerfile"
    elif _is_map(build):
        if _lookup(build, "dockerfile_inline") is not None:
            raise InvalidComposeError(
                f"service {service!r} builds from dockerfile_inline, which has no "
                "Dockerfile.<suffix> to name its image after.",
                hint="Move the Dockerfile into the repository as Dockerfile.<suffix>.",
            )
        found = _lookup(build, "dockerfile")
        dockerfile = str(found[1]) if found is not None else "Dockerfile"
    else:
        raise InvalidComposeError(f"service {service!r}: build must be a string or a mapping")
    base = dockerfile.replace("\\", "/").rsplit("/", 1)[-1]
    suffix = base[len("Dockerfile.") :].lower() if base.startswith("Dockerfile.") else ""
    if not suffix:
        raise InvalidComposeError(
            f"service {service!r} builds {dockerfile!r}, which has no Dockerfile.<suffix>; its "
            "image name experio-dockerfile.<suffix> cannot be derived.",
            hint="Rename it to Dockerfile.<suffix> (e.g. Dockerfile.server) and set "
            "build.dockerfile to that name.",
        )
    if not _DOCKERFILE_SUFFIX.fullmatch(suffix):
        raise InvalidComposeError(
            f"service {service!r}: the suffix {suffix!r} of {dockerfile!r} is not a valid image "
            "name component (lowercase letters, digits, '.', '_' or '-' between them).",
        )
    return dockerfile, suffix


def _walk_maps(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every mapping in the tree with its dotted path, each node once (aliases are shared)."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(path, node)]
    while stack:
        where, current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _is_map(current):
            yield where, current
            for key, value in current.items():
                if isinstance(value, (dict, list)):
                    stack.append((f"{where}.{key}" if where else str(key), value))
        elif isinstance(current, list):
            for index, value in enumerate(current):
                if isinstance(value, (dict, list)):
                    stack.append((f"{where}[{index}]", value))


def _sidecar_names(options: Options) -> set[str]:
    return {f"{options.experio_prefix}{name}" for name in options.sidecars}


def _repin(value: Any, options: Options) -> str | None:
    """The re-pinned reference when ``value`` names a sidecar image, else None."""
    if not isinstance(value, str):
        return None
    try:
        ref = parse_reference(value)
    except InvalidReference:
        return None  # reported by verify() on the output
    if ref.name in _sidecar_names(options):
        return ref.with_tag(options.tag)
    return None


def transform(data: Any, options: Options) -> list[Change]:
    """Pin ``data`` (a round-trip tree) in place; returns the edits made.

    Raises:
        InvalidComposeError: no services, or a build whose image name cannot be derived.
    """
    services = data.get("services") if _is_map(data) else None
    if not _is_map(services) or not services:
        raise InvalidComposeError(f"{options.source_name} has no services mapping")
    changes: list[Change] = []

    # 1. Plan every build -> image first: editing a shared anchor must not change what another
    #    service is computed to inherit.
    plans: list[tuple[str, Any, Any, Any, str]] = []  # (name, service, holder, build, image)
    for name, service in services.items():
        if not _is_map(service):
            continue
        found = _lookup(service, "build")
        if found is None:
            continue
        holder, build = found
        _, suffix = _dockerfile_suffix(str(name), build)
        plans.append((str(name), service, holder, build, options.experio_image(suffix)))

    # 2. Apply: each service gets its own image; the build key goes from wherever it lives.
    for name, service, holder, build, image in plans:
        own_image = _owns(service, "image")
        old = str(_own_get(service, "image")) if own_image else "build"
        if holder is service:
            if own_image:
                _replace_value(service, "image", image)
                _remove_own(service, "build")
                service.ca.items.pop("build", None)
            else:
                pos = _remove_own(service, "build")
                _insert_own(service, pos, "image", image)
                _carry_comments(service, "build", build, "image")
        elif own_image:
            _replace_value(service, "image", image)
        else:
            merge_pos = _merge_pos(service)
            _insert_own(service, merge_pos if merge_pos is not None else 0, "image", image)
        changes.append(Change(name, "pinned", old, image))
    anchors = {id(holder): holder for _, service, holder, _, _ in plans if holder is not service}
    for holder in anchors.values():
        if _owns(holder, "build"):
            _remove_own(holder, "build")
            holder.ca.items.pop("build", None)

    # 3. Sidecars: wherever their images appear (service image, own or via an anchor, and
    #    x-omnistrate-capabilities.sidecars.*.imageNameWithTag anywhere in the file).
    built = {id(plan[1]) for plan in plans}
    for name, service in services.items():
        if not _is_map(service) or id(service) in built:
            continue
        found = _lookup(service, "image")
        if found is None:
            continue
        holder, value = found
        new = _repin(value, options)
        if new is not None and new != value:
            _replace_value(holder, "image", new)
            changes.append(Change(str(name), "repinned", str(value), new))
    for where, mapping in _walk_maps(data):
        if not where.endswith("x-omnistrate-capabilities"):
            continue
        sidecars = mapping.get("sidecars")
        if not _is_map(sidecars):
            continue
        for sidecar, spec in sidecars.items():
            if not _is_map(spec) or "imageNameWithTag" not in spec:
                continue
            value = spec["imageNameWithTag"]
            new = _repin(value, options)
            if new is not None and new != value:
                _replace_value(spec, "imageNameWithTag", new)
                changes.append(Change(f"{where}.sidecars.{sidecar}", "repinned", str(value), new))
    return changes


_HEADER_MARK = "# Generated by experio-omni-compose "


def _require_ruamel() -> None:
    """The merge-key edits rely on ruamel.yaml 0.19's layout (MergeValue with merge_pos)."""
    try:
        import ruamel.yaml
    except ImportError as exc:
        # e.g. scripts/generate_omni_compose.py run by a system python3 outside the venv.
        raise ConfigurationError(
            "experio-omni-compose needs ruamel.yaml, which this Python cannot import.",
            hint="Run it with the project's virtualenv, or pip install 'ruamel.yaml>=0.19' "
            "(pip install . installs everything it needs).",
        ) from exc

    if tuple(ruamel.yaml.version_info[:2]) < (0, 19):
        raise ConfigurationError(
            f"experio-omni-compose needs ruamel.yaml>=0.19, found {ruamel.yaml.__version__}.",
            hint="pip install -U 'ruamel.yaml>=0.19'",
        )


def _header(options: Options) -> str:
    return (
        f"{_HEADER_MARK}from {options.source_name} for {options.tag}.\n"
        "# Do not edit: change the source file and regenerate (docs/deploy.md).\n"
    )


def render(text: str, options: Options) -> Result:
    """Pin ``text`` and return the output text, already verified.

    Raises:
        InvalidTagError: bad TAG (exit 2).
        InvalidComposeError: bad input or an output that fails :func:`verify` (exit 1).
    """
    validate_tag(options.tag, allow_short_sha=options.allow_short_sha)
    _require_ruamel()
    if text.startswith(_HEADER_MARK):  # regenerating from an output: do not stack headers
        text = text.split("\n", 2)[2] if text.count("\n") >= 2 else ""
    yaml, data = _load_rt(text)
    changes = transform(data, options)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    output = _header(options) + buffer.getvalue()
    notes = verify(output, options)
    return Result(text=output, changes=changes, notes=notes)


# --------------------------------------------------------------------------------------------
# Verification of the written text


def _load_plain(text: str) -> Any:
    """Parse ``text`` into plain Python data with merges resolved (a fresh parser, no tree)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except (MarkedYAMLError, YAMLError) as exc:
        raise InvalidComposeError(f"the output is not valid YAML: {exc}") from exc


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _plain_maps(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _plain_maps(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _plain_maps(value, f"{path}[{index}]")


def _check_image(where: str, value: Any, options: Options) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: image must be a string, got {value!r}"]
    try:
        ref = parse_reference(value)
    except InvalidReference as exc:
        return [f"{where}: invalid image reference {value!r}: {exc}"]
    if ref.name.startswith(options.experio_prefix):
        if ref.tag != options.tag or ref.digest:
            return [
                f"{where}: Experio image {value!r} is not pinned to :{options.tag} (built here "
                "or listed with --sidecar, it would have been)"
            ]
        return []
    if ref.tag is None and ref.digest is None:
        return [f"{where}: image {value!r} has no tag or digest (it would float to latest)"]
    if ref.tag == "latest" and ref.digest is None:
        return [f"{where}: image {value!r} is :latest; pin a version or digest"]
    return []


def load_compose_schema(path: Path | None = None) -> tuple[dict | None, str]:
    """Return (the Compose Specification JSON schema, where it came from), or (None, why not).

    Without ``path`` the copy vendored by the ``check-jsonschema`` package is used, so the
    generator does not depend on a file at a path relative to the checkout.
    """
    if path is not None:
        try:
            return json.loads(Path(path).read_text(encoding="utf-8")), str(path)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read the compose schema {path}: {exc}", hint="Check --schema."
            ) from exc
    try:
        from importlib.resources import files

        resource = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
        return json.loads(resource.read_text(encoding="utf-8")), "check-jsonschema vendor"
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError):
        return None, "check-jsonschema is not installed (pip install check-jsonschema)"


def schema_problems(data: Any, schema: dict) -> list[str]:
    """Validate ``data`` against the compose JSON schema; one line per error."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"compose schema: {where}: {error.message}")
    return problems


def verify(text: str, options: Options) -> list[str]:
    """Check rendered compose ``text`` as Omnistrate will receive it; returns notes.

    Raises:
        InvalidComposeError: with every problem found in ``problems``.
    """
    notes: list[str] = []
    duplicates = find_duplicate_keys(text)
    if duplicates:
        # Reported on their own: the plain parser below would stop at the first one with a
        # message that names neither line, and nothing else can be checked reliably.
        raise InvalidComposeError(
            f"the output has {len(duplicates)} duplicate key(s); nothing was written",
            problems=[f"output: {d}" for d in duplicates],
        )
    problems: list[str] = []
    data = _load_plain(text)
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not services:
        raise InvalidComposeError("the output has no services")

    for where, mapping in _plain_maps(data):
        if "build" in mapping:
            problems.append(f"{where}: still has build (Omnistrate never builds)")
    for name, service in services.items():
        if not isinstance(service, dict):
            problems.append(f"services.{name}: not a mapping")
            continue
        if "image" not in service:
            problems.append(f"services.{name}: has no image")
        else:
            problems += _check_image(f"services.{name}.image", service["image"], options)
        depends = service.get("depends_on") or []
        for target in depends if isinstance(depends, list) else list(depends):
            if target not in services:
                problems.append(f"services.{name}.depends_on: unknown service {target!r}")
    for where, mapping in _plain_maps(data):
        if where.endswith("x-omnistrate-capabilities") and isinstance(
            mapping.get("sidecars"), dict
        ):
            for sidecar, spec in mapping["sidecars"].items():
                if isinstance(spec, dict) and "imageNameWithTag" in spec:
                    problems += _check_image(
                        f"{where}.sidecars.{sidecar}.imageNameWithTag",
                        spec["imageNameWithTag"],
                        options,
                    )

    declared = set(options.secrets)
    for where, mapping in [("services." + str(n), s) for n, s in services.items()] + [
        (str(k), v) for k, v in data.items() if k != "services"
    ]:
        for string in _strings(mapping):
            for secret in _SECRET_REF.findall(string):
                if secret not in declared:
                    problems.append(
                        f"{where}: references $secret.{secret}, which is not a declared Omnistrate "
                        f"secret (declared: {', '.join(sorted(declared)) or 'none'}; "
                        "add it with --secret after `omctl secret create`)"
                    )
    for service, secret in options.required_secrets:
        if service in services:
            used = {
                s for string in _strings(services[service]) for s in _SECRET_REF.findall(string)
            }
            if secret not in used:
                problems.append(
                    f"services.{service}: must take a value from the Omnistrate secret "
                    f"$secret.{secret} but does not reference it"
                )

    schema, origin = load_compose_schema(options.schema_path)
    if schema is None:
        notes.append(f"compose schema validation skipped: {origin}")
    else:
        try:
            problems += schema_problems(data, schema)
        except ModuleNotFoundError:
            notes.append("compose schema validation skipped: jsonschema is not installed")

    if problems:
        raise InvalidComposeError(
            f"the pinned output failed {len(problems)} check(s); nothing was written",
            problems=sorted(set(problems)),
        )
    return notes


# --------------------------------------------------------------------------------------------
# Writing


def write_atomic(path: Path, text: str, options: Options) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder, re-verified, then renamed.

    On any failure the temp file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # Check the bytes that will be renamed into place, not the string we meant to write.
        verify(tmp.read_text(encoding="utf-8"), options)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
