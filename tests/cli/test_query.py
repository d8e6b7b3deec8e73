"""`query ...` through click's runner on a store the real storage service filled."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from tests.paths import REPO_ROOT as PROJECT_ROOT

V1, V2 = (str(PROJECT_ROOT / "schemas" / f"order_event.{v}.avsc") for v in ("v1", "v2"))


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def store(
    kafka_bootstrap: str, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """300 events (200 written with v1, 100 with v2) stored by `consume storage`."""
    db = tmp_path_factory.mktemp("query") / "audit.db"
    topic = f"query-{db.parent.name}"
    root = ["--bootstrap-servers", kafka_bootstrap, "--registry-url", registry_url]
    for schema in (V1, V2):
        assert invoke(*root, "schema", "register", schema, "--subject", f"{topic}-value")[0] == 0
    assert invoke(*root, "produce", "--topic", topic, "--count", "200", "--seed", "1")[0] == 0
    code, out = invoke(
        *root, "produce", "--topic", topic, "--count", "100", "--seed", "2", "--schema", V2
    )
    assert code == 0, out
    code, out = invoke(
        *root,
        "consume",
        "storage",
        "--topic",
        topic,
        "--db",
        str(db),
        "--group",
        f"storage-{topic}",
        "--max-events",
        "300",
        "--idle-timeout",
        "20",
    )
    assert code == 0, out
    return db


@pytest.fixture
def query(store: Path) -> Callable[..., tuple[int, str]]:
    return lambda *args: invoke("query", "--db", str(store), *args)


def test_sql_reads_and_formats(query: Callable[..., tuple[int, str]]) -> None:
    statement = "SELECT schema_version, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
    code, out = query("sql", statement)
    assert code == 0
    assert out.splitlines() == [
        "schema_version  n",
        "--------------  ---",
        "1               200",
        "2               100",
    ]
    code, out = query("sql", statement, "--json")
    assert code == 0 and json.loads(out) == [
        {"schema_version": 1, "n": 200},
        {"schema_version": 2, "n": 100},
    ]
    code, out = query("sql", statement, "--csv")
    assert code == 0 and list(csv.reader(io.StringIO(out))) == [
        ["schema_version", "n"],
        ["1", "200"],
        ["2", "100"],
    ]


def test_writes_are_refused_and_nothing_changes(
    query: Callable[..., tuple[int, str]], store: Path
) -> None:
    for statement in (
        "DELETE FROM events",
        "DROP TABLE orders",
        "INSERT INTO orders (order_id) VALUES ('x')",
    ):
        code, out = query("sql", statement)
        assert code == 1
        assert (
            out == "Error: the audit store is opened read-only: this statement would write to it\n"
        )
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (300,)


def test_order_timeline_shows_each_events_schema_version(
    query: Callable[..., tuple[int, str]], store: Path
) -> None:
    with sqlite3.connect(store) as conn:
        order_id, count = conn.execute(
            "SELECT order_id, count(*) FROM events WHERE schema_version = 2 "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
    code, out = query("order", order_id, "--json")
    assert code == 0
    timeline = json.loads(out)
    assert len(timeline) == count
    assert {row["schema_version"] for row in timeline} == {2}
    assert "amount" in timeline[0] and "currency" in timeline[0]  # v2's columns
    assert [row["timestamp"] for row in timeline] == sorted(row["timestamp"] for row in timeline)
    code, out = query("order", order_id)
    assert code == 0 and out.startswith(f"order {order_id}: ")


def test_stats_counts_everything(query: Callable[..., tuple[int, str]]) -> None:
    code, out = query("stats", "--json")
    assert code == 0
    stats = json.loads(out)
    assert sum(row["events"] for row in stats["events by status"]) == 300
    assert sum(row["events"] for row in stats["events by source"]) == 300
    versions = {row["schema_version"]: row["events"] for row in stats["events by schema version"]}
    assert versions == {1: 200, 2: 100}
    assert sum(row["events"] for row in stats["events per minute (event time, latest 10)"]) <= 300
    code, out = query("stats")
    assert code == 0 and out.startswith("events by status\nstatus")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sql", "SELEC 1"), 'Error: SQL error: near "SELEC": syntax error\n'),
        (("order", "no-such-order"), "Error: no events stored for order no-such-order\n"),
        (("sql", "SELECT 1", "--json", "--csv"), "Error: choose one of --json and --csv\n"),
    ],
)
def test_bad_input_is_one_line(
    query: Callable[..., tuple[int, str]], args: tuple[str, ...], message: str
) -> None:
    code, out = query(*args)
    assert code in (1, 2)
    assert out.endswith(message)
    assert "Traceback" not in out


def test_a_missing_or_foreign_file_is_one_line(tmp_path: Path) -> None:
    code, out = invoke("query", "--db", str(tmp_path / "none.db"), "stats")
    assert code == 1 and out.startswith(f"Error: no audit store at {tmp_path / 'none.db'}")
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database")
    code, out = invoke("query", "--db", str(foreign), "stats")
    assert (
        code == 1
        and out == f"Error: cannot read the audit store {foreign}: file is not a database\n"
    )
