"""Canonical values on the way in, so both providers store the same thing.

Rules (docs/graph.md repeats them): aware datetimes become fixed-width ISO-8601 UTC strings
(``2026-01-02T03:04:05.000006Z``, so string order is time order); naive datetimes are refused
(ambiguous); dates become ``YYYY-MM-DD``; times ISO strings; timedeltas float seconds; sets and
tuples become lists (sets sorted when their items sort); UUIDs strings; Decimals floats; enums
their value; NaN and infinity are refused; a map *as a property value* is refused (store
``json.dumps(value)`` instead) because neither FalkorDB nor Neo4j stores maps as properties.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from experio_platform.graph.exceptions import GraphValueError

__all__ = [
    "canonical_params",
    "canonical_properties",
    "canonical_value",
    "format_datetime",
    "new_uid",
]


def new_uid() -> str:
    """Return a new app-level ``uid`` (32 hex chars) for an entity the platform writes."""
    return uuid.uuid4().hex


def format_datetime(value: dt.datetime) -> str:
    """Return the fixed-width ISO-8601 UTC form of an aware datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise GraphValueError(
            f"Naive datetime {value.isoformat()} cannot be stored: its time zone is unknown.",
            hint="Pass an aware datetime (django.utils.timezone.now() or make_aware()).",
        )
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_value(value: Any, path: str = "value", *, allow_map: bool = False) -> Any:
    """Return ``value`` in the canonical form stored in the graph; raise GraphValueError."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise GraphValueError(
                f"{path} is {value!r}: NaN and infinity cannot be stored in the graph.",
                hint="Store None (no property) or a sentinel value instead.",
            )
        return value
    if isinstance(value, enum.Enum):
        return canonical_value(value.value, path, allow_map=allow_map)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return canonical_value(float(value), path)
    if isinstance(value, set | frozenset):
        items = [canonical_value(v, f"{path}[]") for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, list | tuple):
        return [
            canonical_value(v, f"{path}[{i}]", allow_map=allow_map) for i, v in enumerate(value)
        ]
    if isinstance(value, Mapping):
        if not allow_map:
            raise GraphValueError(
                f"{path} is a map: graph properties cannot hold maps.",
                hint="Store json.dumps(value) as a string property instead.",
            )
        return {str(k): canonical_value(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, bytes | bytearray):
        raise GraphValueError(
            f"{path} is bytes: not stored portably by both providers.",
            hint="Store base64 text instead.",
        )
    raise GraphValueError(
        f"{path} has type {type(value).__name__}, which cannot be stored in the graph.",
        hint="Convert it to str, int, float, bool or a list of those.",
    )


def _plain(value: Any) -> bool:
    # The common case, decided without building error paths: several times faster than the
    # general rules on big UNWIND batches (the bulk-write benchmark's ratio depends on it).
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    return kind is float and value - value == 0.0  # False for NaN and +/-inf


def canonical_properties(props: Mapping[str, Any], path: str = "properties") -> dict[str, Any]:
    """Return a property map in canonical form; values that are maps are refused."""
    out: dict[str, Any] = {}
    for k, v in props.items():
        out[k if type(k) is str else str(k)] = v if _plain(v) else canonical_value(v, f"{path}.{k}")
    return out


_FAST = frozenset({str, int, bool, type(None)})


def _row(value: Mapping[str, Any], path: str, index: int) -> Mapping[str, Any]:
    # One UNWIND row: its values may be property maps (``row.props``) one level down. The
    # path of an error is only built when there is one.
    for v in value.values():
        kind = type(v)
        if kind not in _FAST and not (kind is float and v - v == 0.0):
            break
    else:
        return value  # all plain (the bulk case): passed on as is, never mutated
    out: dict[str, Any] = {}
    for k, v in value.items():
        if _plain(v):
            out[k if type(k) is str else str(k)] = v
        elif isinstance(v, Mapping):
            out[str(k)] = canonical_properties(v, f"{path}[{index}].{k}")
        else:
            out[str(k)] = canonical_value(v, f"{path}[{index}].{k}")
    return out


def _param(value: Any, path: str) -> Any:
    # A map parameter is a property map (``SET n += $props``): its values follow the property
    # rules. A list of maps is UNWIND rows, whose values may be property maps themselves.
    if isinstance(value, Mapping):
        return canonical_properties(value, path)
    if isinstance(value, list | tuple) and value and isinstance(value[0], Mapping):
        return [_row(v, path, i) for i, v in enumerate(value)]
    return canonical_value(value, path)


def canonical_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return query parameters with every value canonical (see the module docstring)."""
    if not params:
        return {}
    return {str(k): _param(v, f"${k}") for k, v in params.items()}
