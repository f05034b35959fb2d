"""Our CYPHER parameter header is the falkordb client's own, byte for byte (property test over
arbitrary nested values), and FalkorDB reads it back as the values that were sent."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experio_platform.graph.falkordb import FalkorDBProvider
from experio_platform.graph.falkordb_params import params_header

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_keys = st.text(min_size=0, max_size=6)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=12,
)


def _client_header(params: dict[str, Any]) -> str:
    from falkordb.graph import Graph

    return Graph._build_params_header(None, params)  # type: ignore[arg-type]


def _outcome(build: Any, params: dict[str, Any]) -> tuple[str, str]:
    try:
        return ("ok", build(params))
    except ValueError:
        return ("ValueError", "")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _values, min_size=1, max_size=3))
def test_params_header__same_text_as_the_client(params: dict[str, Any]) -> None:
    assert _outcome(params_header, params) == _outcome(_client_header, params)


def test_params_header__falkordb_reads_the_values_back(falkor: FalkorDBProvider) -> None:
    rows = [
        {"s": 'quote " back \\ slash', "e": "", "i": -(2**62), "f": 0.1, "b": True, "n": None},
        {"s": "unicode é ✓ \n tab\t", "e": "x", "i": 0, "f": -1e-7, "b": False, "n": [1, "a"]},
    ]
    result = falkor.run("UNWIND $rows AS row RETURN row", {"rows": rows}, read_only=True)
    got = [record["row"] for record in result.records]
    assert [r["s"] for r in got] == [r["s"] for r in rows]
    assert [r["i"] for r in got] == [r["i"] for r in rows]
    assert [r["b"] for r in got] == [True, False] and got[1]["n"] == [1, "a"]
    assert math.isclose(got[0]["f"], 0.1) and math.isclose(got[1]["f"], -1e-7)
    with pytest.raises(ValueError):
        params_header({"bad`name": 1})
