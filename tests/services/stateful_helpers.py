"""What the stateful services' tests share: the input as it was partitioned, the outputs
read committed, and pure replays of the services' rules to compare them with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka import committed
from pipeline.serde import AvroDecoder
from pipeline.services import lifecycle, windows
from pipeline.services.order_processor import alert_id, epoch_ms
from pipeline.services.stats import window_of

Alert = tuple[str, str, int, int]  # alert id, kind, input partition, input offset


def read_topic(settings: Settings, topic: str, timeout_s: float = 60) -> list[Any]:
    """Every committed message of `topic`, in partition and offset order (bounded)."""
    messages = committed.read_topic(settings, topic, timeout_s=timeout_s)
    return sorted(messages, key=lambda m: (m.partition(), m.offset()))


def decoded(settings: Settings, topic: str) -> list[tuple[Any, dict[str, Any]]]:
    decoder = AvroDecoder(registry_client.connect(settings), f"{topic}-value")
    return [(m, decoder.decode(m.value())[1]) for m in read_topic(settings, topic)]


def input_events(settings: Settings) -> list[tuple[int, int, dict[str, Any]]]:
    """(partition, offset, value) of every input event, in partition and offset order."""
    return [(m.partition(), m.offset(), v) for m, v in decoded(settings, settings.topic)]


def expected_alerts(
    events: Iterable[tuple[int, int, dict[str, Any]]], retention: lifecycle.Retention
) -> Counter[Alert]:
    """The alerts a pure replay of the lifecycle rules over each partition gives."""
    by_partition: dict[int, list[tuple[int, lifecycle.Step]]] = {}
    for partition, offset, value in events:
        step = lifecycle.Step(
            str(value["order_id"]),
            str(value["event_id"]),
            str(value["status"]),
            epoch_ms(value["timestamp"]),
        )
        by_partition.setdefault(partition, []).append((offset, step))
    found: Counter[Alert] = Counter()
    for partition, steps in by_partition.items():
        judged = lifecycle.replay((step for _, step in steps), retention)
        for (offset, step), judgement in zip(steps, judged, strict=True):
            kind = judgement.verdict.alert
            if kind is not None:
                found[(alert_id(step.event_id, kind.value), kind.value, partition, offset)] += 1
    return found


def written_alerts(settings: Settings) -> Counter[Alert]:
    return Counter(
        (str(r["alert_id"]), r["kind"], r["partition"], r["offset"])
        for _, r in decoded(settings, settings.alerts_topic)
    )


def expected_windows(
    events: Iterable[tuple[int, int, dict[str, Any]]], windowing: windows.Windowing
) -> tuple[list[windows.ClosedWindow], dict[int, windows.PartitionWindows]]:
    """The windows a pure replay closes per partition, and each partition's state after."""
    by_partition: dict[int, list[windows.Observation]] = {}
    for partition, _, value in events:
        by_partition.setdefault(partition, []).append(
            windows.Observation(
                str(value["order_id"]),
                str(value["status"]),
                str(value["source"]),
                epoch_ms(value["timestamp"]),
            )
        )
    closed: list[windows.ClosedWindow] = []
    states = {}
    for partition, observed in sorted(by_partition.items()):
        done, states[partition] = windows.replay(partition, observed, windowing)
        closed.extend(done)
    return closed, states


def written_windows(settings: Settings) -> list[windows.ClosedWindow]:
    return [window_of(record) for _, record in decoded(settings, settings.stats_topic)]
