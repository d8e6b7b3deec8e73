"""The parts of the compiled Avro writer (`avro_writer`): the binary encoding of each type,
as a small function per type that appends a value's encoding to a record's parts.

`avro_writer` writes the fields it knows inline, in one generated function per record
schema; a field of any other type (a nested record, an array, a map, a fixed, a reference
to a named type) is written through the function `writer_of` builds for it here. Each takes
the plain values only (see `avro_writer`) and raises `NotPlain` for anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

# Appends one value's encoding to the record's parts.
Write = Callable[[Any, Callable[[bytes], None]], None]
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
SMALL = 64  # zigzag(n) of 0 <= n < 64 is one byte: lengths of short strings, enum indexes
ONE_BYTE = [bytes([2 * n]) for n in range(SMALL)]
LOGICAL_OVER_PLAIN = {"uuid", "timestamp-millis", "timestamp-micros", "local-timestamp-millis"}
LOGICAL_OVER_PLAIN |= {"local-timestamp-micros", "date", "time-millis", "time-micros"}


class NotPlain(Exception):
    """A value the compiled writer does not take as it is: fastavro encodes the record."""


class Unsupported(Exception):
    """A schema type the compiler does not know."""


def varint(z: int) -> bytes:
    """The variable-length encoding of a non-negative (already zigzagged) integer."""
    out = bytearray()
    while z > 0x7F:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def zigzag_long(n: int) -> bytes:
    if n < 0:
        return varint(~n << 1 | 1)  # (n << 1) ^ (n >> 63) for a negative n
    return ONE_BYTE[n] if n < SMALL else varint(n << 1)


def writer_of(schema: Any, named: dict[str, Write]) -> Write:
    """The writer of values of `schema`; `named` maps the full names of named types met so
    far to their writers (filled in as they are met). Raises `Unsupported`."""
    if isinstance(schema, str):
        if schema in named:
            return named[schema]
        return _primitive(schema)
    if isinstance(schema, list):
        return _union(schema, named)
    kind = schema.get("type")
    logical = schema.get("logicalType")
    if logical is not None and logical not in LOGICAL_OVER_PLAIN:
        raise Unsupported(logical)
    if kind == "record" or kind == "error":
        return _record(schema, named)
    if kind == "enum":
        return _enum(schema, named)
    if kind == "array":
        return _array(writer_of(schema["items"], named))
    if kind == "map":
        return _map(writer_of(schema["values"], named))
    if kind == "fixed":
        return _fixed(schema, named)
    if kind == "long" and logical is not None:
        return _timestamp()
    return writer_of(kind, named)


def _record(schema: dict[str, Any], named: dict[str, Write]) -> Write:
    fields: list[tuple[str, Any, Write]] = []

    def write_record(datum: Any, append: Callable[[bytes], None]) -> None:
        get = datum.get
        for name, default, write in fields:
            write(get(name, default), append)

    named[full_name(schema)] = write_record  # before the fields: a field may refer to it
    for field in schema["fields"]:
        fields.append((field["name"], field.get("default"), writer_of(field["type"], named)))
    return write_record


def _enum(schema: dict[str, Any], named: dict[str, Write]) -> Write:
    indexes = {symbol: zigzag_long(i) for i, symbol in enumerate(schema["symbols"])}

    def write_enum(value: Any, append: Callable[[bytes], None]) -> None:
        append(indexes[value])  # KeyError (an unknown symbol): fastavro says why

    named[full_name(schema)] = write_enum
    return write_enum


def _fixed(schema: dict[str, Any], named: dict[str, Write]) -> Write:
    size = schema["size"]

    def write_fixed(value: Any, append: Callable[[bytes], None]) -> None:
        if type(value) is not bytes or len(value) != size:
            raise NotPlain("fixed")
        append(value)

    named[full_name(schema)] = write_fixed
    return write_fixed


def _union(branches: list[Any], named: dict[str, Write]) -> Write:
    """Only [null, X] and [X, null]: the branch is told by `is None` alone."""
    if len(branches) != 2 or "null" not in branches:
        raise Unsupported("union")
    null_index = branches.index("null")
    other = branches[1 - null_index]
    if isinstance(other, list):
        raise Unsupported("union")
    write_other = writer_of(other, named)
    null_tag, other_tag = zigzag_long(null_index), zigzag_long(1 - null_index)

    def write_union(value: Any, append: Callable[[bytes], None]) -> None:
        if value is None:
            append(null_tag)
        else:
            append(other_tag)
            write_other(value, append)

    return write_union


def _array(items: Write) -> Write:
    def write_array(value: Any, append: Callable[[bytes], None]) -> None:
        if type(value) is not list and type(value) is not tuple:
            raise NotPlain("array")
        if value:
            append(zigzag_long(len(value)))
            for item in value:
                items(item, append)
        append(b"\x00")

    return write_array


def _map(values: Write) -> Write:
    def write_map(value: Any, append: Callable[[bytes], None]) -> None:
        if type(value) is not dict:
            raise NotPlain("map")
        if value:
            append(zigzag_long(len(value)))
            for key, item in value.items():
                write_string(key, append)
                values(item, append)
        append(b"\x00")

    return write_map


def write_null(value: Any, append: Callable[[bytes], None]) -> None:
    if value is not None:
        raise NotPlain("null")


def write_boolean(value: Any, append: Callable[[bytes], None]) -> None:
    if value is True:
        append(b"\x01")
    elif value is False:
        append(b"\x00")
    else:
        raise NotPlain("boolean")


def write_int(value: Any, append: Callable[[bytes], None]) -> None:
    if type(value) is not int or not INT_MIN <= value <= INT_MAX:
        raise NotPlain("int")
    append(zigzag_long(value))


def write_long(value: Any, append: Callable[[bytes], None]) -> None:
    if type(value) is not int or not LONG_MIN <= value <= LONG_MAX:
        raise NotPlain("long")
    append(zigzag_long(value))


def _timestamp() -> Write:
    """A long of a logical type (a time): consecutive values share all but their lowest
    bits, so the encoding of the rest is kept from the last value (the low 7 bits are
    the first byte of a varint)."""
    last: list[tuple[int, bytes]] = [(-1, b"")]  # (z >> 7, its varint): swapped whole

    def write_time(value: Any, append: Callable[[bytes], None]) -> None:
        if type(value) is not int or not SMALL <= value <= LONG_MAX:
            write_long(value, append)  # small or negative (or not a long at all)
            return
        z = value << 1
        high, rest = last[0]
        if high != z >> 7:
            high = z >> 7
            rest = varint(high)
            last[0] = (high, rest)
        append(LOW_BYTE[z & 0x7F])
        append(rest)

    return write_time


LOW_BYTE = [bytes([n | 0x80]) for n in range(128)]
FLOAT, DOUBLE = struct.Struct("<f").pack, struct.Struct("<d").pack


def write_float(value: Any, append: Callable[[bytes], None]) -> None:
    if type(value) is not float and type(value) is not int:
        raise NotPlain("float")
    append(FLOAT(value))


def write_double(value: Any, append: Callable[[bytes], None]) -> None:
    if type(value) is not float and type(value) is not int:
        raise NotPlain("double")
    append(DOUBLE(value))


def write_string(value: Any, append: Callable[[bytes], None]) -> None:
    if type(value) is not str:
        raise NotPlain("string")
    data = value.encode()
    size = len(data)
    append(ONE_BYTE[size] if size < SMALL else varint(size << 1))
    append(data)


def write_bytes(value: Any, append: Callable[[bytes], None]) -> None:
    if type(value) is not bytes:
        raise NotPlain("bytes")
    size = len(value)
    append(ONE_BYTE[size] if size < SMALL else varint(size << 1))
    append(value)


_PRIMITIVES: dict[str, Write] = {
    "null": write_null,
    "boolean": write_boolean,
    "int": write_int,
    "long": write_long,
    "float": write_float,
    "double": write_double,
    "string": write_string,
    "bytes": write_bytes,
}


def _primitive(name: str) -> Write:
    try:
        return _PRIMITIVES[name]
    except KeyError:
        raise Unsupported(name) from None


def full_name(schema: dict[str, Any]) -> str:
    """A named type's full name, as Avro resolves references to it."""
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return f"{namespace}.{name}" if namespace and "." not in name else name
