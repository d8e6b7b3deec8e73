"""Avro binary encoding compiled from a schema once, for the value shapes the pipeline sends.

fastavro's `schemaless_writer` walks the schema for every record and passes each value
through its logical-type hooks; for an order event that is two thirds of its cost. Here a
record schema is turned once into one generated function (its source built from the
schema and `exec`'d, as `dataclasses` builds `__init__`) that checks and encodes each
field inline and joins the parts: no call per field. Field names, enum tables and every
other value of the schema reach it as arguments of the function that makes it, never as
text in its source. The bytes are fastavro's (and so those of confluent-kafka's
`AvroSerializer`): the equality tests hold the two to that, record for record, on every
schema the project ships and on random values.

The compiled writer takes the plain values only: `str` for strings (uuids included), `int`
for longs (epoch milliseconds for timestamps), `float` or `int` for doubles, `None` for a
union's null, a symbol for an enum, a `dict` for the record. Anything else (a `datetime`,
a `uuid.UUID`, a value of the wrong type, a number out of range, a missing field) raises
`NotPlain`, and the caller encodes that record with fastavro instead, which converts,
fills in or rejects it as it always did. A field of a type not written inline (a nested
record, an array, a map, a fixed) goes through `avro_parts`' function for its type; a
schema with a type neither knows (decimals, unions of two non-null branches) compiles to
None: every record of it goes to fastavro.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.avro_parts import (
    DOUBLE,
    FLOAT,
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    LOW_BYTE,
    ONE_BYTE,
    SMALL,
    NotPlain,
    Unsupported,
    Write,
    varint,
    writer_of,
    zigzag_long,
)

__all__ = ["Encode", "NotPlain", "compile_record", "zigzag_long"]

Encode = Callable[[dict[str, Any]], bytes]
_NUMBERS = {"int": (INT_MIN, INT_MAX), "long": (LONG_MIN, LONG_MAX)}
_PACKS = {"float": FLOAT, "double": DOUBLE}


def compile_record(schema: Any, prefix: bytes = b"") -> Encode | None:
    """An encoder of records of the parsed schema JSON `schema` whose output starts with
    `prefix` (a wire-format header), or None if the schema has a type not compiled here.
    The encoder raises `NotPlain` for a record to give to fastavro instead."""
    named: dict[str, Write] = {}
    try:
        write = writer_of(schema, named)
    except (Unsupported, RecursionError):  # a record nested hundreds of levels deep
        return None
    if isinstance(schema, dict) and schema.get("type") in ("record", "error"):
        return _Source(named).record(schema, prefix)
    return _through(write, prefix)


def _through(write: Write, prefix: bytes) -> Encode:
    """The encoder of a value that is not a record (a schema of one type: rare)."""

    def encode(record: dict[str, Any]) -> bytes:
        parts = [prefix]
        try:
            write(record, parts.append)
        except NotPlain:
            raise
        except Exception as exc:
            raise NotPlain(str(exc)) from exc
        return b"".join(parts)

    return encode


class _Source:
    """The source of one record's encoder, and the values it closes over."""

    def __init__(self, named: dict[str, Write]) -> None:
        self.named = named
        self.lines: list[str] = []
        self.depth = 3  # inside `make`, its `encode` and the `try`
        self.values: dict[str, Any] = {"NotPlain": NotPlain, "varint": varint}
        self.values |= {"ONE_BYTE": ONE_BYTE, "LOW_BYTE": LOW_BYTE, "zigzag": zigzag_long}
        self.state: list[str] = []  # the encoder's own variables, kept between records
        self.locals = 0

    def record(self, schema: dict[str, Any], prefix: bytes) -> Encode:
        parts = [self.value(prefix)] if prefix else []
        self.line("if type(record) is not dict:")
        self.line("    raise NotPlain('record')")
        for field in schema["fields"]:
            value, name = self.local(), self.value(field["name"])
            if "default" in field:
                default = self.value(field["default"])
                self.line(f"{value} = record[{name}] if {name} in record else {default}")
            else:
                self.line(f"{value} = record[{name}]")  # missing: fastavro's call
            parts += self.field(field["type"], value)
        self.line(f"return b''.join(({''.join(f'{part}, ' for part in parts)}))")
        return self._make(f"<Avro encoder of {schema.get('name', 'record')}>")

    def _make(self, filename: str) -> Encode:
        arguments = ", ".join(self.values)
        head = [f"def make({arguments}):"]
        head += [f"    {name} = (-1, b'')" for name in self.state]
        head += ["    def encode(record):"]
        head += [f"        nonlocal {', '.join(self.state)}"] if self.state else []
        head += ["        try:"]
        tail = ["        except NotPlain:", "            raise"]
        tail += ["        except Exception as exc:  # a missing field, a symbol not in the enum"]
        tail += ["            raise NotPlain(repr(exc)) from exc", "    return encode"]
        namespace: dict[str, Any] = {}
        exec(compile("\n".join(head + self.lines + tail), filename, "exec"), namespace)
        encode: Encode = namespace["make"](**self.values)
        return encode

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def local(self) -> str:
        self.locals += 1
        return f"v{self.locals}"

    def value(self, value: Any) -> str:
        """The name the encoder knows `value` by."""
        name = f"k{len(self.values)}"
        self.values[name] = value
        return name

    def field(self, schema: Any, value: str) -> list[str]:
        """Lines writing the local `value` of `schema`; the locals holding its parts."""
        parts = self.inline(schema, value)
        if parts is not None:
            return parts
        write, out = self.value(writer_of(schema, self.named)), self.local()
        self.line(f"{out} = []")
        self.line(f"{write}({value}, {out}.append)")
        self.line(f"{out} = b''.join({out})")
        return [out]

    def inline(self, schema: Any, value: str) -> list[str] | None:
        """As `field`, for the types written inline; None (and no lines) for the others."""
        if isinstance(schema, list):
            return self.union(schema, value)
        if isinstance(schema, str):
            return None if schema in self.named else self.primitive(schema, value)
        kind = schema.get("type")
        if kind == "enum":
            return self.enum(schema["symbols"], value)
        if kind == "long" and schema.get("logicalType") is not None:
            return self.time(value)
        if isinstance(kind, str) and kind not in self.named:  # a logical type over it
            return self.primitive(kind, value)
        return None

    def primitive(self, kind: str, value: str) -> list[str] | None:
        if kind == "string" or kind == "bytes":
            return self.sized(kind, value)
        if kind in _NUMBERS:
            return self.number(kind, value)
        out = self.local()
        if kind in _PACKS:
            pack = self.value(_PACKS[kind])
            self.line(f"if type({value}) is not float and type({value}) is not int:")
            self.line(f"    raise NotPlain('{kind}')")
            self.line(f"{out} = {pack}({value})")
            return [out]
        if kind == "boolean":
            self.line(f"if {value} is not True and {value} is not False:")
            self.line("    raise NotPlain('boolean')")
            self.line(f"{out} = b'\\x01' if {value} else b'\\x00'")
            return [out]
        if kind == "null":
            self.line(f"if {value} is not None:")
            self.line("    raise NotPlain('null')")
            return []
        return None

    def sized(self, kind: str, value: str) -> list[str]:
        """A string (its UTF-8) or bytes, after its length."""
        size, data, out = self.local(), self.local(), self.local()
        self.line(f"if type({value}) is not {'str' if kind == 'string' else 'bytes'}:")
        self.line(f"    raise NotPlain('{kind}')")
        self.line(f"{data} = {value}.encode()" if kind == "string" else f"{data} = {value}")
        self.line(f"{size} = len({data})")
        self.line(f"{out} = ONE_BYTE[{size}] if {size} < {SMALL} else varint({size} << 1)")
        return [out, data]

    def number(self, kind: str, value: str) -> list[str]:
        """An int or a long: its zigzag varint, one byte for the small ones."""
        low, high = _NUMBERS[kind]
        out = self.local()
        self.line(f"if type({value}) is not int or not {low} <= {value} <= {high}:")
        self.line(f"    raise NotPlain('{kind}')")
        self.line(f"{out} = ONE_BYTE[{value}] if 0 <= {value} < {SMALL} else zigzag({value})")
        return [out]

    def enum(self, symbols: list[str], value: str) -> list[str]:
        table = self.value({symbol: zigzag_long(i) for i, symbol in enumerate(symbols)})
        out = self.local()
        self.line(f"{out} = {table}[{value}]")  # KeyError: not a symbol, fastavro says so
        return [out]

    def time(self, value: str) -> list[str]:
        """A long of a logical type (a time): consecutive values share all but their lowest
        bits, so the varint of the rest is kept from the last value (the low 7 bits are the
        first byte), in one variable of the encoder swapped whole (a thread reading it sees
        a pair that belongs together)."""
        kept, low, rest, z = f"s{len(self.state)}", self.local(), self.local(), self.local()
        pair = self.local()
        self.state.append(kept)
        self.line(f"if type({value}) is int and {SMALL} <= {value} <= {LONG_MAX}:")
        self.line(f"    {z} = {value} << 1")
        self.line(f"    {low} = LOW_BYTE[{z} & 0x7F]")
        self.line(f"    {pair} = {kept}")  # read once: both halves of one pair
        self.line(f"    if {pair}[0] == {z} >> 7:")
        self.line(f"        {rest} = {pair}[1]")
        self.line("    else:")
        self.line(f"        {rest} = varint({z} >> 7)")
        self.line(f"        {kept} = ({z} >> 7, {rest})")
        self.line("else:")  # small, negative or not a long at all
        self.depth += 1
        self.line(f"{low} = {self.number('long', value)[0]}")
        self.line(f"{rest} = b''")
        self.depth -= 1
        return [low, rest]

    def union(self, branches: list[Any], value: str) -> list[str] | None:
        """[null, X] or [X, null] (`writer_of` took no other): the branch is told by `is None`."""
        null_index = branches.index("null")
        tags = self.value(zigzag_long(null_index)), self.value(zigzag_long(1 - null_index))
        lines, self.lines = self.lines, []
        self.depth += 1
        parts = self.inline(branches[1 - null_index], value)
        self.depth -= 1
        other, self.lines = self.lines, lines
        if parts is None:
            return None
        tag = self.local()
        self.line(f"if {value} is None:")
        self.line(f"    {tag} = {tags[0]}")
        self.lines += ["    " * (self.depth + 1) + f"{part} = b''" for part in parts]
        self.line("else:")
        self.line(f"    {tag} = {tags[1]}")
        self.lines += other
        return [tag, *parts]
