"""`produce` with any registered schema (renamed, retyped, new fields) and `--from` lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastavro import parse_schema, schemaless_reader

from pipeline.cli.main import cli
from pipeline.config import Settings
from tests.order_helpers import read_all

# v1 with user_id renamed (alias kept), amount as a long the events do not have, a field
# with a default and one without: what the store's evolution tests write.
RENAMED = {
    "type": "record",
    "name": "OrderEvent",
    "namespace": "pipeline.orders",
    "fields": [
        {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "order_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "customer_id", "type": "string", "aliases": ["user_id"]},
        {
            "name": "status",
            "type": {
                "type": "enum",
                "name": "OrderStatus",
                "symbols": ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED"],
            },
        },
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "amount", "type": "long"},
        {"name": "note", "type": "string", "default": "none"},
        {"name": "priority", "type": "int"},
    ],
}


def run(settings: Settings, *args: str, stdin: str | None = None):
    root = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    return CliRunner().invoke(cli, [*root, *args], input=stdin)


@pytest.fixture
def renamed(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "renamed.avsc"
    path.write_text(json.dumps(RENAMED))
    subject = f"{settings.topic}-value"
    assert run(settings, "schema", "register", str(path), "--subject", subject).exit_code == 0
    return path


def test_a_renamed_and_retyped_schema_is_filled_and_says_how(
    settings: Settings, renamed: Path
) -> None:
    result = run(
        settings, "produce", "--topic", settings.topic, "--schema", str(renamed), "--count", "20"
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:5] == [
        "renamed.avsc: fields filled",
        "  by name: event_id, order_id, status, timestamp",
        "  by alias: customer_id (from user_id)",
        "  by default: note",
        "  generated: amount (the events' amount is a double), priority",
    ]
    assert result.output.splitlines()[5].startswith(f"sent 20 events to {settings.topic} ")
    parsed = parse_schema(RENAMED)
    records = [
        schemaless_reader(io.BytesIO((m.value() or b"")[5:]), parsed, None)
        for m in read_all(settings, settings.topic, 20)
    ]
    assert len(records) == 20
    assert all(r["customer_id"].startswith("user-") and r["note"] == "none" for r in records)
    assert all(isinstance(r["amount"], int) and isinstance(r["priority"], int) for r in records)


def test_from_lines_sends_what_fits_and_numbers_what_does_not(
    settings: Settings, renamed: Path
) -> None:
    good = {
        "event_id": "01a21d04-7969-7794-ab6c-57637c0b03ee",
        "order_id": "01a21d04-794b-77b4-91c5-1f86973082d6",
        "customer_id": "c-1",
        "status": "SHIPPED",
        "timestamp": 1,
        "amount": 5,
        "note": "by hand",
        "priority": 2,
    }
    lines = "\n".join(
        [json.dumps(good), "not json", "", json.dumps({**good, "amount": "x"}), "[1]"]
    )
    result = run(
        settings,
        "produce",
        "--topic",
        settings.topic,
        "--schema",
        str(renamed),
        "--from",
        "-",
        stdin=lines + "\n",
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 2 refused: not JSON (Expecting value: line 1 column 1 (char 0))",
        'line 4 refused: field amount: "x" is not a long',
        "line 5 refused: a JSON list, not an object",
    ]
    assert result.stdout.splitlines()[-1] == "3 line(s) refused (not sent)"
    (message,) = read_all(settings, settings.topic, 1)
    assert message.key() == good["order_id"].encode()
    decoded = schemaless_reader(
        io.BytesIO((message.value() or b"")[5:]), parse_schema(RENAMED), None
    )
    # uuid and timestamp-millis come back as UUID and datetime: compare as text, and ms.
    assert decoded["timestamp"].timestamp() * 1000 == good["timestamp"]
    assert {k: str(v) for k, v in decoded.items() if k != "timestamp"} == {
        k: str(v) for k, v in good.items() if k != "timestamp"
    }
