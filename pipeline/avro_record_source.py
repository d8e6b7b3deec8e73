"""The reader of one Avro record as one generated function, compiled once per schema.

A record read field by field through a function per field pays a call, a tuple and a loop
step for each: an order event's nine fields took about 45 % more CPU that way than as
straight-line code (measured). So the record's reader is written out as Python source:
strings, longs, enums, doubles, booleans and the branches of unions are read inline;
anything else (an array, a map, a record within it, a named type, a rare encoding such as
a length of more than one byte) is a call to the small reader `avro_reader` compiled for
it.

The source holds only generated names and numbers: everything taken from the schema (field
names, symbols, the readers it calls) is a global of the function's own namespace, so no
schema text is ever pasted into code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.avro_values import (
    KEPT_START,
    UNPACK_DOUBLE,
    UNPACK_FLOAT,
    Read,
    read_long_kept,
    read_size,
)

# What reads a value of `{v}` from `data` at `i`, moving `i` past it, with no call.
INLINE: dict[str, list[str]] = {
    "null": ["{v} = None"],
    "boolean": ["{v} = data[i] != 0", "i += 1"],  # as fastavro: any byte but 0 is true
    "double": ["{v} = UNPACK_DOUBLE(data, i)[0]", "i += 8"],
    "float": ["{v} = UNPACK_FLOAT(data, i)[0]", "i += 4"],
    "string": [
        "n = data[i]",
        "if n & 0x81:",  # not a one-byte length (negative, or 64 bytes and more)
        "    n, i = read_size(data, i)",
        "else:",
        "    n >>= 1",
        "    i += 1",
        "j = i + n",
        "{v} = data[i:j].decode()",
        "i = j",
    ],
    # One byte inline. A longer varint often shares all but its first two bytes with the
    # field's last one of 3 bytes or more (timestamps of a stream do: they share all but
    # their low bits), whose rest is kept; the tuple is swapped whole, so threads sharing
    # the reader never mix two.
    "long": [
        "n = data[i]",
        "if n < 0x80:",
        "    {v} = (n >> 1) ^ -(n & 1)",
        "    i += 1",
        "else:",
        "    kept = {kept}",
        "    m = data[i + 1]",
        "    if m > 0x7F and data.startswith(kept[0], i + 2):",
        "        z = kept[1] | (m & 0x7F) << 7 | n & 0x7F",
        "        {v} = (z >> 1) ^ -(z & 1)",
        "        i += kept[2]",
        "    else:",
        "        {v}, i, {kept} = read_long_kept(data, i, {kept})",
    ],
}
INLINE["int"] = INLINE["long"]  # fastavro reads an int as a long: no range check
ONE_BYTE_INDEXES = 64  # indexes 0 to 63 are one-byte varints (0, 2, ..., 126)


class RecordSource:
    """The source of one record's reader, built field by field. `called` compiles the
    reader of a value that is not read inline."""

    def __init__(self, called: Callable[[Any], Read]) -> None:
        self.called = called
        self.lines: list[str] = []
        self.kept: list[str] = []
        self.globals: dict[str, Any] = {"UNPACK_DOUBLE": UNPACK_DOUBLE}
        self.globals |= {"UNPACK_FLOAT": UNPACK_FLOAT}
        self.globals |= {"read_size": read_size, "read_long_kept": read_long_kept}
        self.fields = 0

    def field(self, schema: Any) -> str:
        """Appends the code reading one field into a new local; returns the local's name."""
        local = f"v{self.fields}"
        self.fields += 1
        self.lines += self.value(schema, local)
        return local

    def function(self, label: str, names: list[str], locals_: list[str]) -> Read:
        """The reader: the record as a dict of the fields' values, in their order."""
        keys = [self.constant("name", name) for name in names]
        items = ", ".join(f"{key}: {local}" for key, local in zip(keys, locals_, strict=True))
        head = ["def read_record(data, i):"]
        if self.kept:
            head.append(f"    global {', '.join(self.kept)}")
        body = [f"    {line}" for line in [*self.lines, f"return {{{items}}}, i"]]
        source = "\n".join([*head, *body])
        exec(compile(source, f"<avro reader of {label}>", "exec"), self.globals)
        read: Read = self.globals["read_record"]
        return read

    def constant(self, role: str, value: Any) -> str:
        name = f"{role}{len(self.globals)}"
        self.globals[name] = value
        return name

    def value(self, schema: Any, local: str) -> list[str]:
        inline = self.inline(schema, local)
        if inline is not None:
            return inline
        if isinstance(schema, dict) and schema.get("type") == "enum":
            return self.enum(schema, local)
        if isinstance(schema, list):
            return self.union(schema, local)
        return [f"{local}, i = {self.constant('read', self.called(schema))}(data, i)"]

    def inline(self, schema: Any, local: str) -> list[str] | None:
        """The code of a primitive read inline (`"string"` or `{"type": "string"}`)."""
        if isinstance(schema, dict) and "logicalType" not in schema:
            schema = schema.get("type")
        code = INLINE.get(schema) if isinstance(schema, str) else None
        if code is None:
            return None
        kept = ""
        if code is INLINE["long"]:
            kept = self.constant("kept", KEPT_START)
            self.kept.append(kept)
        return [line.format(v=local, kept=kept) for line in code]

    def enum(self, schema: dict[str, Any], local: str) -> list[str]:
        """A symbol by its index's one-byte varint, through a table of all 256 bytes."""
        read = self.constant("read", self.called(schema))
        table: list[str | None] = [None] * 256
        for index, symbol in enumerate(schema["symbols"][:ONE_BYTE_INDEXES]):
            table[index << 1] = symbol
        symbols = self.constant("symbols", tuple(table))
        return [
            f"{local} = {symbols}[data[i]]",
            f"if {local} is None:",
            f"    {local}, i = {read}(data, i)",
            "else:",
            "    i += 1",
        ]

    def union(self, branches: list[Any], local: str) -> list[str]:
        """The primitive branches by their index's one-byte varint; the rest is called."""
        call = f"{local}, i = {self.constant('read', self.called(branches))}(data, i)"
        cases: list[str] = []
        for index, branch in enumerate(branches[:ONE_BYTE_INDEXES]):
            code = self.inline(branch, local)
            if code is not None:
                cases += [f"{'elif' if cases else 'if'} n == {index << 1}:", "    i += 1"]
                cases += [f"    {line}" for line in code]
        return ["n = data[i]", *cases, "else:", f"    {call}"] if cases else [call]
