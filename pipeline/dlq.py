"""The dead-letter topic: what a service cannot read or refuses, copied there byte for byte.

A dead letter keeps the original key, value and headers, and adds headers saying why and
where it came from: `dlq.kind` (not-wire-format, unknown-schema-id, corrupt-avro, refused,
handler-error), `dlq.reason` (human-readable), `dlq.service`, `dlq.topic`,
`dlq.partition`, `dlq.offset`.

A message too large for the dead-letter topic (its `max.message.bytes`, read once) cannot
be copied; neither can one the broker refuses for what it is. Its letter, of kind
`oversized`, carries no body: the reason it was dead-lettered (`dlq.original-kind` and the
reason), its size (`dlq.size`), its coordinates and the SHA-256 of its value
(`dlq.sha256`), so it can be found in the source topic. Such a letter is never fatal.
Whether a letter fits is judged by its size on the wire (`kafka.records`), before it is
sent; a topic too small for even the digest stops the service with one line
(`fitted`), as nothing of this letter could ever be stored there.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, Message

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka.admin import Admin
from pipeline.kafka.checked_producer import CheckedProducer, Headers
from pipeline.kafka.committed import ReadError, read_topic
from pipeline.kafka.records import batch_bytes

READ_TIMEOUT_S = 10.0
# Room kept above a topic's limit in the client's own message.max.bytes (which counts a
# little differently than the broker does), so the broker is the one that judges.
FRAMING_BYTES = 512
KEY_LIMIT = 1024  # a larger key is left out of an oversized letter (its digest stays)


class DeadLetterError(PipelineError):
    pass


@dataclass(frozen=True, slots=True)
class DeadLetter:
    kind: str
    reason: str
    service: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    about: tuple[tuple[str, bytes], ...] = ()  # more dlq.* headers (an oversized letter's)

    def kafka_headers(self) -> Headers:
        return [
            *self.headers,
            ("dlq.kind", self.kind.encode()),
            ("dlq.reason", self.reason.encode()),
            ("dlq.service", self.service.encode()),
            ("dlq.topic", self.topic.encode()),
            ("dlq.partition", str(self.partition).encode()),
            ("dlq.offset", str(self.offset).encode()),
            *self.about,
        ]

    def size(self) -> int:
        """Bytes of the letter on the wire, alone in its record batch (an upper bound)."""
        return batch_bytes(self.key, self.value, self.kafka_headers())

    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class DeadLetterWriter:
    """Produces dead letters; `flush()` returns only when every one is safely stored."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limit: int | None = None  # the topic's max.message.bytes, read on first use
        self._kinds: Counter[str] = Counter()
        self._out: CheckedProducer | None = None

    def send(self, letter: DeadLetter) -> None:
        out = self._producer()
        letter = fitted(letter, self._limit_bytes(), self._settings.dlq_topic)
        self._kinds[letter.kind] += 1
        out.send(letter.value, letter.key, letter.kafka_headers())

    def flush(self) -> Counter[str]:
        """Until every letter is stored; returns how many of each kind were written."""
        if self._out is not None:
            self._out.flush()
        kinds, self._kinds = self._kinds, Counter()
        return kinds

    def _producer(self) -> CheckedProducer:
        if self._out is None:
            # The client takes a letter as large as the topic does (its own default is
            # lower, so a message near the broker's limit could not be copied at all).
            limit = self._limit_bytes()
            self._out = CheckedProducer(
                self._settings,
                self._settings.dlq_topic,
                DeadLetterError,
                on_refused=self._refused,
                config=producer_limits(limit),
            )
        return self._out

    def _limit_bytes(self) -> int:
        if self._limit is None:
            config = Admin.from_settings(self._settings).config(self._settings.dlq_topic)
            self._limit = int(config.get("max.message.bytes", "1048588"))
        return self._limit

    def _refused(
        self, error: KafkaError, key: bytes | None, value: bytes | None, headers: Headers
    ) -> bool:
        """The broker or the client refused a letter for what it is: send its digest."""
        letter = _letter_of(key, value, headers)
        if letter is None or letter.kind == "oversized":
            return False  # not a letter of ours, or already the smallest it can be
        replacement = oversized(letter, f"refused by {self._settings.dlq_topic}: {error.str()}")
        self._kinds[letter.kind] -= 1
        self._kinds["oversized"] += 1
        assert self._out is not None
        self._out.send(replacement.value, replacement.key, replacement.kafka_headers())
        return True

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


def producer_limits(topic_limit: int) -> dict[str, int]:
    """A producer's limits for a topic taking `topic_limit` bytes a batch: one letter as
    large as the topic takes (the client's own default is lower), and batches of several
    letters no larger than the topic takes (a batch is judged whole by the broker)."""
    return {
        "message.max.bytes": max(1_000_000, topic_limit + FRAMING_BYTES),
        "batch.size": max(1, min(1_000_000, topic_limit)),
    }


def fitted(letter: DeadLetter, limit: int, topic: str, why: str | None = None) -> DeadLetter:
    """The letter as `topic` (taking `limit` bytes a batch) can hold it: whole, or as its
    digest when it is too large or was refused for what it is (`why`). Raises
    DeadLetterError when not even the digest fits: the topic can store nothing of it."""
    if why is None and letter.size() <= limit:
        return letter
    digest = oversized(letter, why or f"larger than {topic} takes")
    if digest.size() > limit:
        raise DeadLetterError(
            f"cannot write to {topic}: it refuses even the digest of the letter for "
            f"{letter.where()} ({digest.size()} bytes; it takes {limit})"
        )
    return digest


def oversized(letter: DeadLetter, why: str) -> DeadLetter:
    """The letter without its body: why it was dead-lettered, its size, where, a digest."""
    value = letter.value or b""
    key = letter.key if letter.key is None or len(letter.key) <= KEY_LIMIT else None
    reason = f"{letter.kind}: {letter.reason}; the {len(value)}-byte message is not copied ({why})"
    about = (
        ("dlq.original-kind", letter.kind.encode()),
        ("dlq.size", str(len(value)).encode()),
        ("dlq.sha256", hashlib.sha256(value).hexdigest().encode()),
        ("dlq.headers-left-out", str(len(letter.headers)).encode()),
    )
    return replace(
        letter, kind="oversized", reason=reason, key=key, value=None, headers=(), about=about
    )


def _letter_of(key: bytes | None, value: bytes | None, headers: Headers) -> DeadLetter | None:
    """A letter rebuilt from what was produced (its dlq.* headers say what it was)."""
    own = {k: (v or b"") for k, v in headers if k.startswith("dlq.")}
    theirs = tuple(
        (k, v.encode() if isinstance(v, str) else (v or b""))
        for k, v in headers
        if not k.startswith("dlq.")
    )
    if "dlq.kind" not in own:
        return None
    text = {k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in own.items()}
    return DeadLetter(
        kind=text["dlq.kind"],
        reason=text.get("dlq.reason", ""),
        service=text.get("dlq.service", ""),
        topic=text.get("dlq.topic", ""),
        partition=int(text.get("dlq.partition", "0")),
        offset=int(text.get("dlq.offset", "0")),
        key=key,
        value=value,
        headers=theirs,
    )


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One record read back from the dead-letter topic."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    def describe(self) -> str:
        h = self.headers.get
        when = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        origin = f"{h('dlq.topic', '?')}[{h('dlq.partition', '?')}]@{h('dlq.offset', '?')}"
        size = h("dlq.size") or (0 if self.value is None else len(self.value))
        return (
            f"#{self.offset} {when} {h('dlq.service', '?')} {h('dlq.kind', '?')} "
            f"from {origin}, {size} bytes: {h('dlq.reason', '')}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": None if self.key is None else self.key.decode(errors="replace"),
            "size": int(self.headers.get("dlq.size", 0 if self.value is None else len(self.value))),
            "headers": self.headers,
        }


def read_dead_letters(settings: Settings, limit: int = 100) -> list[DeadLetterRecord]:
    """The last `limit` committed records of the dead-letter topic, oldest first (read
    without a consumer group, to each partition's stable end: letters written in
    transactions leave markers between them, so counting offsets would miscount)."""
    try:
        messages = read_topic(settings, settings.dlq_topic, timeout_s=READ_TIMEOUT_S * 3)
    except ReadError as exc:
        raise DeadLetterError(str(exc)) from exc
    records = sorted((_record(m) for m in messages), key=lambda r: (r.timestamp_ms, r.offset))
    return records[-limit:] if limit > 0 else []


def header_pairs(message: Message) -> tuple[tuple[str, bytes], ...]:
    """A message's headers as (name, bytes) pairs, however the client hands them over."""
    raw = message.headers()
    if not raw:  # most messages: no tuple to build
        return ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((k, v.encode() if isinstance(v, str) else (v or b"")) for k, v in pairs)


def _record(message: Message) -> DeadLetterRecord:
    headers = {k: v.decode(errors="replace") for k, v in header_pairs(message)}
    return DeadLetterRecord(
        offset=message.offset() or 0,
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        headers=headers,
    )
