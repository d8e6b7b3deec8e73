"""Avro binary decoding compiled from a schema once, for the messages the pipeline reads.

fastavro's `schemaless_reader` walks the schema for every message and reads each field
through a file object's `read`; for an order event that is most of the storage service's
decoding. Here a schema is turned once into code that reads the message's `bytes` at an
index with plain integer arithmetic: a record into one generated function
(`avro_record_source`), the rest into the small functions below and of `avro_values`.

The compiled reader only ever says "this message holds this value", and then it says what
fastavro says: the equality tests hold the two to that on every schema the project ships,
on random values and on mutated messages. Whatever it would not read exactly as fastavro
does (a negative length, an enum or union index out of range, a varint longer than 10
bytes or wider than 64 bits, bad UTF-8, data cut short, an array or map block with its
size) raises `Unreadable`, and the caller reads that message with fastavro instead, which
accepts, converts or refuses it as it always did. A schema with something compiled here
does not know (a logical type, which fastavro converts; a record that contains itself)
compiles to None: every message of it goes to fastavro.
"""

from __future__ import annotations

from typing import Any

from pipeline.avro_parts import Unsupported, full_name
from pipeline.avro_record_source import RecordSource
from pipeline.avro_values import PRIMITIVES, Read, Unreadable, read_long, read_string

# The readers of the named types compiled so far, by full name (None while a record's own
# fields are compiled: a field naming it would make it contain itself).
Named = dict[str, Read | None]


def compile_reader(schema: Any) -> Read | None:
    """A reader of a whole message's value of the parsed schema JSON `schema`, or None if
    the schema has something this module does not compile. The reader returns (the value,
    the index after it: short of `len(data)` if bytes are left over) and raises
    `Unreadable` for a message to leave to fastavro."""
    try:
        read = reader_of(schema, {})
    except (Unsupported, RecursionError):  # a record nested hundreds of levels deep
        return None

    def read_message(data: bytes, start: int) -> tuple[Any, int]:
        try:
            value, end = read(data, start)
        except Unreadable:
            raise
        except Exception as exc:  # past the end (IndexError), bad UTF-8: fastavro's call
            raise Unreadable(repr(exc)) from exc
        if end > len(data):  # a string cut short: its slice came back shorter
            raise Unreadable("cut short")
        return value, end

    return read_message


def reader_of(schema: Any, named: Named) -> Read:
    if isinstance(schema, str):
        if schema in named:
            return _named(schema, named)
        if schema in PRIMITIVES:
            return PRIMITIVES[schema]
        raise Unsupported(schema)
    if isinstance(schema, list):
        return _union([reader_of(branch, named) for branch in schema])
    if "logicalType" in schema:
        raise Unsupported(str(schema["logicalType"]))
    kind = schema.get("type")
    if kind == "record" or kind == "error":
        return _record(schema, named)
    if kind == "enum":
        return _enum(schema, named)
    if kind == "array":
        return _array(reader_of(schema["items"], named))
    if kind == "map":
        return _map(reader_of(schema["values"], named))
    if kind == "fixed":
        return _fixed(schema, named)
    return reader_of(kind, named)


def _named(name: str, named: Named) -> Read:
    read = named[name]
    if read is None:
        raise Unsupported(f"recursive {name}")
    return read


def _record(schema: dict[str, Any], named: Named) -> Read:
    name = full_name(schema)
    named[name] = None
    source = RecordSource(lambda value: reader_of(value, named))
    fields = schema["fields"]
    locals_ = [source.field(field["type"]) for field in fields]
    read = source.function(name, [field["name"] for field in fields], locals_)
    named[name] = read
    return read


def _enum(schema: dict[str, Any], named: Named) -> Read:
    symbols = tuple(schema["symbols"])
    count = len(symbols)

    def read_enum(data: bytes, i: int) -> tuple[Any, int]:
        index, i = read_long(data, i)
        if not 0 <= index < count:  # fastavro would take -1 as the last symbol
            raise Unreadable("enum index")
        return symbols[index], i

    named[full_name(schema)] = read_enum
    return read_enum


def _fixed(schema: dict[str, Any], named: Named) -> Read:
    size = int(schema["size"])

    def read_fixed(data: bytes, i: int) -> tuple[Any, int]:
        end = i + size
        return data[i:end], end

    named[full_name(schema)] = read_fixed
    return read_fixed


def _union(branches: list[Read]) -> Read:
    count = len(branches)

    def read_union(data: bytes, i: int) -> tuple[Any, int]:
        index, i = read_long(data, i)
        if not 0 <= index < count:  # fastavro would count the branches from the end
            raise Unreadable("union index")
        return branches[index](data, i)

    return read_union


def _array(items: Read) -> Read:
    def read_array(data: bytes, i: int) -> tuple[Any, int]:
        values: list[Any] = []
        count, i = _block_count(data, i)
        while count:
            for _ in range(count):
                value, i = items(data, i)
                values.append(value)
            count, i = _block_count(data, i)
        return values, i

    return read_array


def _map(values: Read) -> Read:
    def read_map(data: bytes, i: int) -> tuple[Any, int]:
        entries: dict[str, Any] = {}
        count, i = _block_count(data, i)
        while count:
            for _ in range(count):
                key, i = read_string(data, i)
                entries[key], i = values(data, i)
            count, i = _block_count(data, i)
        return entries, i

    return read_map


def _block_count(data: bytes, i: int) -> tuple[int, int]:
    """An array's or map's block count: not negative (a block with its size in bytes, which
    fastavro reads, is left to it), and no more items than bytes left, so that a corrupt
    count of items of no bytes (nulls) is never looped over here."""
    count, i = read_long(data, i)
    if not 0 <= count <= len(data) - i:
        raise Unreadable("block count")
    return count, i
