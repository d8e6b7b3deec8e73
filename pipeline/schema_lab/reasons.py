"""A registry's compatibility refusal, as sentences a person reads. Pure, no I/O.

Registries answer a refused schema with messages like
`{errorType:'TYPE_MISMATCH', description:'...', additionalInfo:'reader type: long not
compatible with writer type: string'}` (and, from Confluent's, `{oldSchemaVersion: 1}`).
Each becomes one sentence naming the field, the two types or symbols involved, and the
version it conflicts with:

    field 'user_id' is a string in version 1 but a long in the new schema, and Avro cannot
    promote string to long: the new schema cannot read data written with version 1
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_KINDS = re.compile(r"^'([^']*)'")
_DESCRIPTION = re.compile(r"description:'(.*?)'(?=, additionalInfo:'|\}\s*(?:,|\]|\(|$))", re.S)
# additionalInfo may quote too ({'CANCELLED'}): it ends at the quote that closes the object.
_INFO = re.compile(r"additionalInfo:'(.*?)'\}(?=\s*(?:,|\]|\(|$))", re.S)
_DIRECTION = re.compile(r"^(.+?) cannot read data written with (.+?):")
_NAMED_FIELD = re.compile(r"field '([^']+)'")
_PATH = re.compile(r"(/fields/[\w/]+)")
_TYPES = re.compile(r"reader type: (\S+) not compatible with writer type: (\S+)", re.I)
_OLD_VERSION = re.compile(r"oldSchemaVersion: (\d+)")
_VERSION = re.compile(r"version (\d+)")


@dataclass(frozen=True)
class Refusal:
    kinds: tuple[str, ...]
    description: str
    info: str
    reader: str  # "the new schema" or "version N"
    writer: str
    field: str | None


def explain(
    messages: Iterable[str], *, new_schema: Any = None, old_label: str | None = None
) -> list[str]:
    """One sentence per refusal in `messages` (a 409's text, or a check's message list).

    `new_schema` (parsed JSON) names a field a registry gives only as a path
    (/fields/3/type); `old_label` names the old schema ("the old schema" in a pair
    experiment) instead of "version N". Messages that are not refusals are left out,
    unless nothing else is left.
    """
    texts = list(messages)
    version = next((m.group(1) for t in texts if (m := _OLD_VERSION.search(t))), None)
    refusals = [r for text in texts for r in parse(text, version, new_schema)]
    if not refusals:
        return [" ".join(t.split()) for t in texts if t.strip()]
    return [sentence(r, old_label) for r in refusals]


def parse(text: str, old_version: str | None = None, new_schema: Any = None) -> list[Refusal]:
    """Every `{errorType:..., description:..., additionalInfo:...}` object in `text`."""
    found = []
    for chunk in text.split("{errorType:")[1:]:
        kinds_text = _KINDS.match(chunk)
        description = _DESCRIPTION.search(chunk)
        info = _INFO.search(chunk)
        kinds = tuple(
            k.strip() for k in (kinds_text.group(1) if kinds_text else "").split(",") if k.strip()
        )
        about = description.group(1) if description else ""
        reader, writer = _direction(about, old_version)
        field = _field(about, new_schema)
        found.append(Refusal(kinds, about, info.group(1) if info else "", reader, writer, field))
    return found


def sentence(r: Refusal, old_label: str | None = None) -> str:
    reader, writer = (_label(x, old_label) for x in (r.reader, r.writer))
    where = f"field '{r.field}'" if r.field else "the schema"
    because = f"{reader} cannot read data written with {writer}"
    kind = r.kinds[0] if len(r.kinds) == 1 else ""
    types = _TYPES.search(r.info)
    if kind == "TYPE_MISMATCH" and types:
        wanted, had = types.group(1).lower(), types.group(2).lower()
        return (
            f"{where} is {_a(had)} in {writer} but {_a(wanted)} in {reader}, and Avro cannot "
            f"promote {had} to {wanted}: {because}"
        )
    if kind == "MISSING_ENUM_SYMBOLS":
        symbols = ", ".join(re.findall(r"'([^']+)'", r.info)) or r.info.strip("{}")
        return (
            f"{where}: {writer} has enum symbol(s) {symbols} that {reader} lacks, and "
            f"{reader}'s enum has no default: {because}"
        )
    if kind == "READER_FIELD_MISSING_DEFAULT_VALUE":
        name = r.field or r.info.strip() or "a field"
        return (
            f"field '{name}' is in {reader} without a default and {writer} does not have it: "
            f"{because}"
        )
    if kind == "MISSING_UNION_BRANCH":
        return (
            f"{where}: {writer} can write a union branch ({r.info}) that {reader} lacks: {because}"
        )
    if kind == "NAME_MISMATCH":
        return f"{where}: a named type was renamed without an alias ({r.info}): {because}"
    if kind == "FIXED_SIZE_MISMATCH":
        return f"{where}: a fixed type changed size ({r.info}): {because}"
    detail = r.description.split(": ", 1)[-1] if _DIRECTION.match(r.description) else r.description
    return f"{where}: {detail or ', '.join(r.kinds)}: {because}"


def _direction(description: str, old_version: str | None) -> tuple[str, str]:
    """(reader, writer) as the registry named them; Confluent's say neither: its checks
    are the new schema reading the old one's data unless told otherwise."""
    match = _DIRECTION.match(description)
    if match:
        return match.group(1), match.group(2)
    version = old_version or next(iter(_VERSION.findall(description)), None)
    old = f"version {version}" if version else "the old schema"
    return "the new schema", old


def _field(description: str, new_schema: Any) -> str | None:
    named = _NAMED_FIELD.search(description)
    if named:
        return named.group(1)
    path = _PATH.search(description)
    if not path:
        return None
    return field_at(new_schema, path.group(1)) or path.group(1)


def field_at(schema: Any, path: str) -> str | None:
    """The dotted field name at a path such as /fields/2/type/fields/0 in `schema`."""
    names: list[str] = []
    tokens = [t for t in path.split("/") if t]
    node = schema
    for token, following in zip(tokens, [*tokens[1:], ""], strict=True):
        if token == "fields" and isinstance(node, dict) and following.isdigit():
            fields = node.get("fields") or []
            if int(following) >= len(fields):
                return None
            names.append(str(fields[int(following)].get("name")))
            node = fields[int(following)].get("type")
        elif token in ("items", "values") and isinstance(node, dict):
            node = node.get(token)
    return ".".join(names) or None


def _label(name: str, old_label: str | None) -> str:
    return old_label if old_label and name.startswith("version ") else name


def _a(type_name: str) -> str:
    return f"an {type_name}" if type_name[:1] in "aeiou" else f"a {type_name}"
