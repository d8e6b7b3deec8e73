"""Reading a dead-letter topic exactly (every letter counted, in time order, filtered by kind
and service) and replaying chosen letters to the one service that dead-lettered them.

A replayed letter goes to `<topic>.replay.<service>` (`config.replay_topic`), which only that
service subscribes to: the other services handled the message the first time, and would
count or alert on it twice if it came back on the source topic. It keeps its key, value
and original headers, and gains `dlq.replayed` (when) and `dlq.replayed.from` (which letter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Message

from pipeline.config import Settings, replay_topic
from pipeline.dlq import DeadLetterError, header_pairs
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.kafka.checked_producer import CheckedProducer
from pipeline.kafka.committed import ReadError, read_topic

READ_TIMEOUT_S = 30.0
NO_BODY_KINDS = ("oversized",)  # letters whose headers stand in for a body too big to carry


@dataclass(frozen=True, slots=True)
class Letter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str, default: str = "?") -> str:
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode(errors="replace") if found else default

    @property
    def kind(self) -> str:
        return self.header("dlq.kind")

    @property
    def service(self) -> str:
        return self.header("dlq.service")

    @property
    def when(self) -> str:
        stamp = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        return stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass(frozen=True)
class Listing:
    topic: str
    total: int  # every letter on the topic
    matched: list[Letter]  # those the filters chose, oldest first


def list_letters(
    settings: Settings, topic: str, kinds: Iterable[str] = (), services: Iterable[str] = ()
) -> Listing:
    """Every committed letter on `topic` (exact: read to each partition's stable end), filtered."""
    wanted_kinds, wanted_services = set(kinds), set(services)
    letters = _read_all(settings, topic)
    if any(not letter.header("dlq.kind", "") for letter in letters):
        raise DeadLetterError(
            f"{topic} is not a dead-letter topic: its messages carry no dlq.* headers "
            f"(dead-letter topics are named T.dlq, e.g. {settings.topic}.dlq)"
        )
    matched = [
        letter
        for letter in letters
        if (not wanted_kinds or letter.kind in wanted_kinds)
        and (not wanted_services or letter.service in wanted_services)
    ]
    return Listing(topic, len(letters), matched)


def replay(settings: Settings, topic: str, letters: list[Letter]) -> dict[str, int]:
    """Send `letters` back, each to its own service's replay topic; {topic: letters sent}."""
    empty = [letter for letter in letters if letter.kind in NO_BODY_KINDS or letter.value is None]
    if empty:
        numbers = ", ".join(f"#{letter.offset}" for letter in empty[:5])
        raise DeadLetterError(
            f"{len(empty)} chosen letter(s) carry no body ({numbers}, kind "
            f"{empty[0].kind}): only their headers were kept, there is nothing to replay"
        )
    targets: dict[str, list[Letter]] = {}
    for letter in letters:
        source = letter.header("dlq.topic", settings.topic)
        # A replayed letter that failed again names the replay topic: back to the same one.
        source = source.removesuffix(f".replay.{letter.service}")
        targets.setdefault(replay_topic(source, letter.service), []).append(letter)
    Admin.from_settings(settings).ensure(TopicSpec(name, 1) for name in targets)
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    for target, chosen in targets.items():
        out = CheckedProducer(settings, target, DeadLetterError)
        try:
            for letter in chosen:
                kept = [(k, v) for k, v in letter.headers if not k.startswith("dlq.")]
                headers = [
                    *kept,
                    ("dlq.replayed", now.encode()),
                    ("dlq.replayed.from", f"{topic}[{letter.partition}]@{letter.offset}".encode()),
                ]
                out.send(letter.value, letter.key, list(headers))
            out.flush()
        finally:
            out.close()
    return {target: len(chosen) for target, chosen in targets.items()}


def _read_all(settings: Settings, topic: str) -> list[Letter]:
    """Every committed letter on `topic`, oldest first. Read to each partition's stable end
    (`kafka.committed`): the stateful services write letters in transactions, whose markers
    take offsets, so the number of letters is not the distance between two offsets."""
    if not Admin.from_settings(settings).partitions(topic):
        raise DeadLetterError(
            f"topic {topic} does not exist: dead-letter topics are named T.dlq "
            "(python cli.py dev status lists the topics)"
        )
    try:
        messages = read_topic(settings, topic, timeout_s=READ_TIMEOUT_S)
    except ReadError as exc:
        raise DeadLetterError(str(exc)) from exc
    letters = [_letter(m, m.partition() or 0, m.offset() or 0) for m in messages]
    letters.sort(key=lambda letter: (letter.timestamp_ms, letter.partition, letter.offset))
    return letters


def _letter(message: Message, partition: int, offset: int) -> Letter:
    return Letter(
        partition=partition,
        offset=offset,
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        headers=header_pairs(message),
    )
