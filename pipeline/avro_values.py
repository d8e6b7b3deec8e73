"""Avro's primitive values read from a `bytes` object at an index, as fastavro reads them.

Each reader takes the message and an index and returns (the value, the index after it).
Where plain arithmetic on the bytes would not give what fastavro gives, the reader raises
`Unreadable` and leaves the message to fastavro: a negative length (fastavro reads "the
rest"), a varint longer than 10 bytes or wider than 64 bits (its C reader wraps it). Past
the end of the data an index raises IndexError, or a slice comes back short and the index
after it lies beyond the end, which `avro_reader` checks once per message.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

# Reads one value of `data` at index `i`: (the value, the index after it).
Read = Callable[[bytes, int], tuple[Any, int]]
UNPACK_DOUBLE, UNPACK_FLOAT = struct.Struct("<d").unpack_from, struct.Struct("<f").unpack_from
_SHIFTS = tuple(range(7, 64, 7))  # of the second to the tenth byte of a varint


class Unreadable(Exception):
    """A message the compiled reader does not decide: fastavro reads it."""


def read_long(data: bytes, i: int) -> tuple[int, int]:
    """An int or a long: a zigzag varint."""
    b = data[i]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), i + 1
    z = b & 0x7F
    for shift in _SHIFTS:
        i += 1
        b = data[i]
        z |= (b & 0x7F) << shift
        if b < 0x80:
            if z >> 64:
                raise Unreadable("varint wider than 64 bits")
            return (z >> 1) ^ -(z & 1), i + 1
    raise Unreadable("varint longer than 10 bytes")


# A varint of 3 bytes or more: its bytes after the first two, the bits they hold, its length.
Kept = tuple[bytes, int, int]
KEPT_START: Kept = (b"\x01", 0x4000, 3)  # 80 80 01 (8192): a true one to start from


def read_long_kept(data: bytes, i: int, kept: Kept) -> tuple[int, int, Kept]:
    """A long, and what is kept of it for a later varint that shares all but its first two
    bytes with it (and reads them without the loop of `read_long`): `kept` again if it is
    shorter than 3 bytes."""
    value, end = read_long(data, i)
    if end - i < 3:
        return value, end, kept
    z = (value << 1) ^ (value >> 63)  # zigzag again: the varint's bits
    return value, end, (data[i + 2 : end], z & ~0x3FFF, end - i)


def read_size(data: bytes, i: int) -> tuple[int, int]:
    """The length of a string or of bytes."""
    size, i = read_long(data, i)
    if size < 0:
        raise Unreadable("negative length")
    return size, i


def read_null(data: bytes, i: int) -> tuple[Any, int]:
    return None, i


def read_boolean(data: bytes, i: int) -> tuple[Any, int]:
    return data[i] != 0, i + 1  # as fastavro: any byte but 0 is true


def read_float(data: bytes, i: int) -> tuple[Any, int]:
    return UNPACK_FLOAT(data, i)[0], i + 4


def read_double(data: bytes, i: int) -> tuple[Any, int]:
    return UNPACK_DOUBLE(data, i)[0], i + 8


def read_bytes(data: bytes, i: int) -> tuple[Any, int]:
    size, i = read_size(data, i)
    end = i + size
    return data[i:end], end


def read_string(data: bytes, i: int) -> tuple[Any, int]:
    size, i = read_size(data, i)
    end = i + size
    return data[i:end].decode(), end  # strict UTF-8, as fastavro's


PRIMITIVES: dict[str, Read] = {
    "null": read_null,
    "boolean": read_boolean,
    "int": read_long,  # fastavro reads an int as a long: no range check
    "long": read_long,
    "float": read_float,
    "double": read_double,
    "string": read_string,
    "bytes": read_bytes,
}
