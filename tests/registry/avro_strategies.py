"""Hypothesis strategies for Avro schema text: mostly valid, sometimes subtly not.

The fuzz test registers `avro_schema_text()` for the description's `avro-schema` string
format, so fuzzed registrations, look-ups and compatibility tests carry schemas that parse
and reach the registry's real logic (ids, versions, compatibility, defaults) instead of
stopping at "not JSON". Defaults are drawn loosely, so some do not fit their field's type.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
PRIMITIVES = st.sampled_from(
    ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
)
DOCS = st.text(max_size=6)
DEFAULTS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=3), st.just([])
)
NO_DEFAULT = object()


def field(types: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    def make(name: str, type_: Any, default: Any) -> dict[str, Any]:
        built = {"name": name, "type": type_}
        return built if default is NO_DEFAULT else {**built, "default": default}

    return st.builds(make, NAMES, types, st.one_of(st.just(NO_DEFAULT), DEFAULTS))


def record(types: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    def make(name: str, fields: list[dict[str, Any]], doc: str) -> dict[str, Any]:
        return {"type": "record", "name": name, "doc": doc, "fields": fields}

    fields = st.lists(field(types), max_size=4, unique_by=lambda f: f["name"])
    return st.builds(make, NAMES, fields, DOCS)


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda t: {"type": "array", "items": t}, inner),
        st.builds(lambda t: {"type": "map", "values": t}, inner),
        st.builds(lambda t: ["null", t], PRIMITIVES.filter(lambda p: p != "null")),
        st.builds(
            lambda n, s: {"type": "enum", "name": n, "symbols": s},
            NAMES,
            st.lists(NAMES, min_size=1, max_size=3, unique=True),
        ),
        record(inner),
    )


TYPES = st.recursive(PRIMITIVES, containers, max_leaves=6)


def avro_schema_text() -> st.SearchStrategy[str]:
    """A record schema as JSON text, compact or indented, escaped or not."""
    return st.builds(
        lambda schema, ascii_only, indent: json.dumps(
            schema, ensure_ascii=ascii_only, indent=indent
        ),
        record(TYPES),
        st.booleans(),
        st.sampled_from([None, 2]),
    )
