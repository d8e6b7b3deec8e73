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
    def run(*args: str) -> tuple[int, str]:
        return invoke("query", "--db", str(store), *args)

    run.db = store  # type: ignore[attr-defined]
    return run


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
    assert list(stats) == ["by_status", "by_source", "by_schema_version", "per_minute"]
    assert all(" " not in key for key in stats)
    assert sum(row["events"] for row in stats["by_status"]) == 300
    assert sum(row["events"] for row in stats["by_source"]) == 300
    versions = {row["schema_version"]: row["events"] for row in stats["by_schema_version"]}
    assert versions == {1: 200, 2: 100}
    assert sum(row["events"] for row in stats["per_minute"]) <= 300
    code, out = query("stats")
    assert code == 0 and out.startswith("events by status\nstatus")


def test_stats_csv_is_one_table_chosen_with_table(query: Callable[..., tuple[int, str]]) -> None:
    code, out = query("stats", "--table", "by_schema_version", "--csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["schema_version", "schema_id", "events", "subject"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("1", "200"), ("2", "100")]
    # Without --table: the old several-tables CSV, for one more release, with a warning.
    result = CliRunner().invoke(cli, ["query", "--db", str(query.db), "stats", "--csv"])  # type: ignore[attr-defined]
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: --csv without one --table writes several tables in one CSV; the next "
        "release will need --table (one of by_status, by_source, by_schema_version, "
        "per_minute)\n"
    )
    assert result.stdout.startswith("status,events\n")
    code, out = query("stats", "--table", "by_source", "--table", "by_status", "--json")
    assert code == 0 and set(json.loads(out)) == {"by_source", "by_status"}


def test_rows_are_limited_and_the_limit_is_said(query: Callable[..., tuple[int, str]]) -> None:
    code, out = query("sql", "SELECT kafka_offset FROM events")
    assert code == 0
    assert len(out.splitlines()) == 2 + 300  # header, rule, 300 rows: under the default 1000
    code, out = query("sql", "SELECT kafka_offset FROM events", "--limit", "5")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 + 5 + 1
    assert lines[-1] == "(first 5 rows shown: the --limit; raise it to see more)"
    result = CliRunner().invoke(
        cli,
        [
            "query",
            "--db",
            str(query.db),
            "sql",
            "SELECT 1 UNION ALL SELECT 2",
            "--limit",
            "1",
            "--json",
        ],
    )  # type: ignore[attr-defined]
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [{"1": 1}]
    assert result.stderr == "(first 1 rows shown: the --limit; raise it to see more)\n"


def test_a_runaway_statement_is_stopped_in_time(query: Callable[..., tuple[int, str]]) -> None:
    forever = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
        "SELECT x FROM n ORDER BY x DESC"
    )
    code, out = query("sql", forever, "--timeout", "0.5")
    assert (code, out) == (
        1,
        "Error: the statement ran longer than 0.5 s and was stopped (--timeout)\n",
    )


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("", 'no SQL statement given: pass one, e.g. "SELECT count(*) FROM events"'),
        (
            "   -- just a comment",
            "the statement returns no rows: run one SELECT (or a pragma that reads)",
        ),
        (
            "ATTACH DATABASE 'attached.db' AS x",
            "ATTACH, DETACH and VACUUM INTO are refused: they create or open other files",
        ),
        (
            "VACUUM INTO 'copy.db'",
            "ATTACH, DETACH and VACUUM INTO are refused: they create or open other files",
        ),
        (
            "PRAGMA journal_mode=DELETE",
            "the audit store is opened read-only: this statement would write to it (PRAGMA "
            "journal_mode=DELETE: only pragmas that read are allowed, such as table_info, "
            "index_list, journal_mode)",
        ),
        ("SELECT load_extension('x')", "load_extension is refused"),
    ],
)
def test_statements_that_reach_outside_are_refused_before_they_run(
    query: Callable[..., tuple[int, str]],
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    statement: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # where ATTACH and VACUUM INTO would create their file
    code, out = query("sql", statement)
    assert (code, out) == (1, f"Error: {message}\n")
    assert list(tmp_path.iterdir()) == []  # no file created, not even an empty one
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_pragmas_that_read_still_work(query: Callable[..., tuple[int, str]]) -> None:
    code, out = query("sql", "PRAGMA table_info(orders)", "--json")
    assert code == 0 and "order_id" in {row["name"] for row in json.loads(out)}
    code, out = query("sql", "PRAGMA journal_mode", "--json")
    assert (code, json.loads(out)) == (0, [{"journal_mode": "wal"}])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sql", "SELEC 1"), 'Error: SQL error: near "SELEC": syntax error\n'),
        (("order", "no-such-order"), "Error: no events stored for order no-such-order\n"),
        (
            ("sql", "SELECT 1", "--json", "--csv"),
            "Error: choose one of --json and --csv (see: python cli.py query sql --help)\n",
        ),
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
