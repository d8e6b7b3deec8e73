"""`dlq` and `dlq replay` through click's runner against the real broker and registry."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.config import Settings, replay_topic
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin
from tests.order_helpers import produce_raw, read_all, register_v1

POISON = [
    (b"p0", b'{"order_id": "oops"}'),
    (b"p1", b"\x00\x7f\xff\xff\xf0\x02ab"),
    (b"p2", b"\x00\x00\x00\x00\x01\x48"),
]


def run(settings: Settings, *args: str) -> tuple[int, str]:
    root = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    result = CliRunner().invoke(cli, [*root, *args])
    return result.exit_code, result.output


def consume(settings: Settings, service: str, events: int, idle: str = "20") -> dict:
    code, out = run(
        settings,
        "consume",
        service,
        "--topic",
        settings.topic,
        "--group",
        f"{service}-{settings.topic}",
        "--db",
        str(settings.db_path),
        "--max-events",
        str(events),
        "--idle-timeout",
        idle,
        "--json",
    )
    assert code == 0, out
    return json.loads(out.splitlines()[-1])["run"]


@pytest.fixture
def letters(settings: Settings) -> Settings:
    """Three poison messages among two good ones, read by storage and analytics: 6 letters."""
    register_v1(settings)
    assert (
        run(settings, "produce", "--topic", settings.topic, "--count", "2", "--seed", "5")[0] == 0
    )
    produce_raw(settings, settings.topic, POISON)
    consume(settings, "storage", 5)
    consume(settings, "analytics", 5)
    return settings


def test_counts_are_exact_ordered_by_time_and_filtered(letters: Settings) -> None:
    dlq = letters.dlq_topic
    code, out = run(letters, "dlq", "--topic", dlq)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"6 dead letters on {dlq}"
    times = [" ".join(line.split()[1:3]) for line in lines[1:]]
    assert len(times) == 6 and times == sorted(times)

    code, out = run(letters, "dlq", "--topic", dlq, "--limit", "2")
    assert out.splitlines()[0] == f"6 dead letters on {dlq} (the last 2 shown; --limit shows more)"
    assert len(out.splitlines()) == 3

    code, out = run(
        letters, "dlq", "--topic", dlq, "--kind", "not-wire-format", "--service", "storage"
    )
    lines = out.splitlines()
    assert lines[0] == f"6 dead letters on {dlq}; 1 of kind not-wire-format and service storage"
    assert " storage not-wire-format from " in lines[1] and len(lines) == 2

    code, out = run(letters, "dlq", "--topic", dlq, "--service", "analytics", "--show-payload")
    payloads = [line.strip() for line in out.splitlines() if line.startswith("    payload: ")]
    assert sorted(payloads) == [
        "payload: b'\\x00\\x00\\x00\\x00\\x01H'",
        "payload: b'\\x00\\x7f\\xff\\xff\\xf0\\x02ab'",
        'payload: b\'{"order_id": "oops"}\'',
    ]


def test_a_topic_that_is_not_a_dead_letter_topic_is_one_line(letters: Settings) -> None:
    assert run(letters, "dlq", "--topic", letters.topic) == (
        1,
        f"Error: {letters.topic} is not a dead-letter topic: its messages carry no dlq.* "
        "headers (dead-letter topics are named T.dlq, e.g. order-events.dlq)\n",
    )


def test_replay_reaches_the_named_service_only_marked_as_replayed(letters: Settings) -> None:
    dlq = letters.dlq_topic
    code, out = run(letters, "dlq", "replay", "--topic", dlq, "--service", "storage")
    assert code == 0 and out.splitlines()[0] == "would replay 3 letter(s); add --yes to send them:"

    code, out = run(letters, "dlq", "replay", "--topic", dlq, "--service", "storage", "--yes")
    target = replay_topic(letters.topic, "storage")
    assert (code, out) == (0, f"replayed 3 letter(s) to {target}\n")
    replayed = read_all(letters, target, 3)
    assert sorted(m.value() for m in replayed) == sorted(v for _, v in POISON)
    for message in replayed:
        headers = dict(message.headers() or [])
        assert headers["dlq.replayed.from"].decode().startswith(f"{dlq}[0]@")
        assert "dlq.replayed" in headers and "dlq.kind" not in headers

    # Storage reads them again (and dead-letters them again: they are still poison);
    # analytics never sees them.
    assert consume(letters, "storage", 3)["consumed"] == 3
    assert consume(letters, "analytics", 1, idle="3")["consumed"] == 0
    code, out = run(letters, "dlq", "--topic", dlq, "--json")
    again = [json.loads(line) for line in out.splitlines()][6:]
    assert [a["headers"]["dlq.service"] for a in again] == ["storage"] * 3
    assert all(a["headers"]["dlq.topic"] == target for a in again)
    assert replay_topic(letters.topic, "analytics") not in Admin.from_settings(letters).names()


def test_a_letter_without_a_body_is_refused(settings: Settings) -> None:
    producer = clients.producer(settings.kafka_config(acks="all"))
    producer.produce(
        settings.dlq_topic,
        None,
        b"k",
        headers=[("dlq.kind", b"oversized"), ("dlq.service", b"storage"), ("dlq.reason", b"big")],
    )
    assert producer.flush(15) == 0
    code, out = run(
        settings, "dlq", "replay", "--topic", settings.dlq_topic, "--offset", "0", "--yes"
    )
    assert (code, out) == (
        1,
        "Error: 1 chosen letter(s) carry no body (#0, kind oversized): only their headers "
        "were kept, there is nothing to replay\n",
    )
    assert replay_topic(settings.topic, "storage") not in Admin.from_settings(settings).names()
