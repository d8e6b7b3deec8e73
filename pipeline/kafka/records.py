"""How many bytes a record takes on the wire, judged before it is produced.

A broker refuses a record batch larger than the topic's `max.message.bytes`. Inside a
transaction a refused record does not just fail: the transaction must be aborted, and a
topic too small even for the abort's own marker wedges the transactional id for good. So a
record that may not fit is found out here, before `produce()`, from Kafka's record format
(v2, uncompressed): a batch header, then each record's length, attributes, deltas, key,
value and headers, every length a zigzag varint.

The figure is an upper bound for the record alone in its batch: the timestamp and offset
deltas, which depend on the batch's other records, are counted at their widest.
"""

from __future__ import annotations

from collections.abc import Iterable

BATCH_HEADER_BYTES = 61  # base offset .. record count, before the first record
# Attributes (1), timestamp delta (varlong, at most 10), offset delta (varint, at most 5).
RECORD_FIXED_BYTES = 1 + 10 + 5

Header = tuple[str, str | bytes | None]


def varint_bytes(value: int) -> int:
    """Bytes of `value` as a zigzag varint (Kafka's encoding of signed lengths)."""
    zigzag = (value << 1) ^ (value >> 63)
    size = 1
    while zigzag >= 0x80:
        zigzag >>= 7
        size += 1
    return size


def field_bytes(data: str | bytes | None) -> int:
    """A length-prefixed field: -1 stands for null."""
    if data is None:
        return varint_bytes(-1)
    raw = data.encode() if isinstance(data, str) else data
    return varint_bytes(len(raw)) + len(raw)


def record_bytes(key: str | bytes | None, value: bytes | None, headers: Iterable[Header]) -> int:
    """The record's size on the wire, its own length prefix included."""
    listed = list(headers)
    body = RECORD_FIXED_BYTES + field_bytes(key) + field_bytes(value)
    body += varint_bytes(len(listed))
    body += sum(field_bytes(name) + field_bytes(data) for name, data in listed)
    return varint_bytes(body) + body


def batch_bytes(key: str | bytes | None, value: bytes | None, headers: Iterable[Header]) -> int:
    """The size of a batch holding this record alone: what `max.message.bytes` limits."""
    return BATCH_HEADER_BYTES + record_bytes(key, value, headers)
