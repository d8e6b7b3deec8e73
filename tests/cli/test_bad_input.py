"""Every command, fed input a user could plausibly type wrong: one line, no traceback, the
right exit code (2 for a usage error, 1 otherwise), and nothing written.

The corpus must name every command of the CLI (a new command without bad-input cases fails
`test_the_corpus_covers_every_command`). Commands that need a server get the session's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.kafka.admin import Admin
from tests.cli.test_help import all_commands
from tests.paths import SCHEMAS

V1 = str(SCHEMAS / "order_event.v1.avsc")
# Files a user might hand a command that wants an Avro schema.
BAD_SCHEMAS = {
    "not-a-schema.json": '{"foo": 1}',
    "number.json": "123",
    "empty-union.json": "[]",
    "record-without-fields.json": '{"type": "record", "name": "R"}',
    "field-without-type.json": '{"type": "record", "name": "R", "fields": [{"name": "a"}]}',
    "not-json.avsc": "{not json",
    "enum-without-symbols.json": '{"type": "enum", "name": "E", "symbols": []}',
    "binary.avsc": "\udcff\udcfe",
    "deep.json": "[" * 100_000,
}
SCHEMA_FILES = [*BAD_SCHEMAS, "missing.avsc", "a-directory"]
HUGE = "99999999999999999999"

USAGE, FAILS = 2, 1


def corpus() -> list[tuple[tuple[str, ...], int]]:
    """(arguments, exit code). `{topic}`, `{store}`, `{text}` are filled in per test."""
    cases: list[tuple[tuple[str, ...], int]] = []
    for name in SCHEMA_FILES:
        cases += [
            (("schema", "register", name, "--subject", "{topic}-value"), FAILS),
            (("schema", "check", name, "--subject", "{topic}-value"), FAILS),
            (("schema", "diff", name, V1), FAILS),
            (("schema", "diff", V1, name), FAILS),
            (("schema", "matrix", V1, name), FAILS),
            # --schema is a file option: a directory is a usage error.
            (
                ("produce", "--topic", "{topic}", "--schema", name),
                USAGE if "dir" in name else FAILS,
            ),
        ]
    cases += [
        (("--no-such-option", "dlq"), USAGE),
        (("no-such-command",), USAGE),
        (("--client-properties", "missing.properties", "dlq"), FAILS),
        (("--client-properties", "{text}", "dlq"), FAILS),
        # produce
        (("produce", "--topic", "{topic}", "--count", HUGE), USAGE),
        (("produce", "--topic", "{topic}", "--count", "-1"), USAGE),
        (("produce", "--topic", "{topic}", "--rate", "nan"), USAGE),
        (("produce", "--topic", "{topic}", "--rate", "inf"), USAGE),
        (("produce", "--topic", "{topic}", "--duration", "0"), USAGE),
        (("produce", "--topic", "{topic}", "--orders", "0"), USAGE),
        (("produce", "--topic", "{topic}", "--orders", HUGE), USAGE),
        (("produce", "--topic", "{topic}", "--anomalies", "2"), USAGE),
        (("produce", "--topic", "{topic}", "--seed", "abc"), USAGE),
        (("produce", "--topic", "{topic}"), FAILS),  # no schema registered for it
        # consume
        (("consume", "no-such-service"), USAGE),
        (("consume", "storage", "--batch-size", "0"), USAGE),
        (("consume", "storage", "--batch-size", HUGE), USAGE),
        (("consume", "storage", "--interval", "nan"), USAGE),
        (("consume", "analytics", "--topic", "{topic}"), FAILS),  # no such topic
        # dlq
        (("dlq", "--limit", "0"), USAGE),
        (("dlq", "--limit", HUGE), USAGE),
        (("dlq", "--topic", "{topic}"), FAILS),  # no such topic
        (("dlq", "--show-payload", "--kind"), USAGE),
        (("dlq", "replay"), USAGE),  # nothing chosen
        (("dlq", "replay", "--topic", "{topic}", "--all"), FAILS),  # no such topic
        (("dlq", "replay", "--offset", "-1"), USAGE),
        # groups
        (("groups", "--topic", "{topic}", "--json", "--no-such-flag"), USAGE),
        # schema
        (("schema", "show", "{topic}-value"), FAILS),
        (("schema", "show", "{topic}-value", "--version", "0"), USAGE),
        (("schema", "show", "{topic}-value", "--version", HUGE), USAGE),
        (("schema", "config", "SIDEWAYS"), FAILS),
        (("schema", "config", "--subject", "{topic}-value", "NONE"), FAILS),
        (("schema", "check", V1, "--level", "sideways"), FAILS),
        (("schema", "delete", "{topic}-value"), FAILS),
        (("schema", "delete", "{topic}-value", "--version", "-3"), USAGE),
        (("schema", "list", "extra-argument"), USAGE),
        # query
        (("query", "--db", "missing.db", "stats"), FAILS),
        (("query", "--db", "{text}", "stats"), FAILS),
        (("query", "--db", "{store}", "sql", ""), FAILS),
        (("query", "--db", "{store}", "sql", "SELEC 1"), FAILS),
        (("query", "--db", "{store}", "sql", "ATTACH DATABASE 'x.db' AS x"), FAILS),
        (("query", "--db", "{store}", "sql", "VACUUM INTO 'copy.db'"), FAILS),
        (("query", "--db", "{store}", "sql", "DELETE FROM events"), FAILS),
        (("query", "--db", "{store}", "sql", "SELECT 1", "--limit", "0"), USAGE),
        (("query", "--db", "{store}", "sql", "SELECT 1", "--timeout", "inf"), USAGE),
        (("query", "--db", "{store}", "order", "no-such-order"), FAILS),
        (("query", "--db", "{store}", "stats", "--table", "nope"), USAGE),
        # dev (nothing here may start or stop a stack)
        (("dev", "up", "--kafka-port", "0"), USAGE),
        (("dev", "up", "--registry-port", "70000"), USAGE),
        (("dev", "fetch", "--home", "{text}"), USAGE),
        (("dev", "down", "--home", "{text}"), USAGE),
        (("dev", "status", "--home", "{text}"), USAGE),
        (("dev", "logs", "no-such-part"), USAGE),
        (("dev", "logs", "--lines", "0"), USAGE),
        (("dev", "reset"), USAGE),
        # registry, demo, bench
        (("registry", "serve", "--port", "70000"), USAGE),
        (("registry", "serve", "--port", "0", "--basic-auth-file", "missing.txt"), FAILS),
        (("api", "serve", "--port", "70000"), USAGE),
        (("api", "serve", "--port", "0", "--basic-auth-file", "missing.txt"), FAILS),
        (("api", "serve", "--port", "0", "--basic-auth-file", "text.txt"), FAILS),
        (("api", "serve", "--port", "0", "--host", "0.0.0.0"), FAILS),
        (("bench", "api", "--seconds", "0"), USAGE),
        (("bench", "api", "--pages", "0"), USAGE),
        (("demo", "--events", "5"), USAGE),
        (("demo", "--rate", "nan"), USAGE),
        (("bench", "--repeats", "0"), USAGE),
        (("bench", "--producer-events", HUGE), USAGE),
        (("bench", "--rate", "inf"), USAGE),
        (("bench", "producer", "--events", "0"), USAGE),
        (("bench", "registry", "--seconds", "-1"), USAGE),
        (("bench", "store", "--runs", "0"), USAGE),
        (("bench", "store", "--events", HUGE), USAGE),
        (("bench", "devstack", "--runs", "0"), USAGE),
        (("bench", "before-after", "--repeats", "0"), USAGE),
        (("bench", "before-after", "--base", "0" * 40), FAILS),  # a commit the clone lacks
        (("bench", "--quick", "store"), USAGE),  # the comparison's options with a subcommand
        (("stats", "--last", "0"), USAGE),
        (("stats", "--topic", "{topic}-never-created"), FAILS),
    ]
    return cases


CASES = corpus()


def leaf_commands() -> set[str]:
    return {p for p, c in all_commands(cli) if not isinstance(c, click.Group)}


def command_of(args: tuple[str, ...]) -> str | None:
    """The command `args` run: its first word that names one, and for a group the next."""
    leaves = leaf_commands()
    words = [a for a in args if not a.startswith("-")]
    for i, word in enumerate(words):
        if word in leaves:
            return word
        found = [f"{word} {w}" for w in words[i + 1 :] if f"{word} {w}" in leaves]
        if found:
            return found[0]
    return None


def test_the_corpus_covers_every_command() -> None:
    covered = {command_of(args) for args, _ in CASES}
    assert leaf_commands() - covered == set()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the bad files, as the command's working directory."""
    for name, text in BAD_SCHEMAS.items():
        (tmp_path / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "text.txt").write_text("key without equals sign\n")
    store = tmp_path / "store.db"

    with sqlite3.connect(store) as conn:  # an audit store with nothing in it
        conn.execute("CREATE TABLE events (x)")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


@pytest.mark.parametrize(("args", "code"), CASES, ids=[" ".join(a)[:80] for a, _ in CASES])
def test_bad_input_is_one_line_with_the_right_exit_code(
    args: tuple[str, ...],
    code: int,
    workdir: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.bootstrap_servers)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", settings.registry_url)
    monkeypatch.setenv("AUDIT_DB", str(workdir / "audit.db"))
    filled = tuple(
        a.format(topic=settings.topic, store=workdir / "store.db", text=workdir / "text.txt")
        for a in args
    )
    before = snapshot(workdir)
    result = CliRunner().invoke(cli, list(filled))
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output and "internal error" not in output
    assert len(output.strip().splitlines()) == 1, output
    assert output.startswith("Error: "), output
    assert snapshot(workdir) == before  # nothing written, not even an empty file
    assert settings.topic not in Admin.from_settings(settings).names()  # no topic made
