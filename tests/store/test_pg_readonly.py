"""Queries on the PostgreSQL store: truly read-only, bounded, and printed as on SQLite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.devstack.postgres import read_only_url
from pipeline.errors import StoreError
from pipeline.store import open_store, reports
from pipeline.store.pg_readonly import open_pg_read_only
from pipeline.store.readonly import open_reader
from tests.store.schemas import T0, V1, V2, event, order_value, writer

ORDER = "00000000-0000-4000-8000-0000000000bb"


def fill(target: str | Path) -> None:
    values = [
        order_value(status, order_id=ORDER, at=T0 + dt.timedelta(minutes=i))
        for i, status in enumerate(["PLACED", "CONFIRMED", "SHIPPED"])
    ]
    batch = [event(writer(1, V1), value, i) for i, value in enumerate(values)]
    batch.append(event(writer(2, V2), order_value(amount=9.5, currency="USD"), 3))
    with open_store(target) as store:
        store.write(batch)


def test_stats_and_timeline_read_the_same_on_both_stores(pg_store_url: str, tmp_path: Path) -> None:
    fill(pg_store_url)
    fill(tmp_path / "audit.db")
    sqlite, postgres = open_reader(tmp_path / "audit.db"), open_reader(read_only_url(pg_store_url))
    try:
        for ask in (reports.stats, lambda db: [reports.order_timeline(db, ORDER)]):
            on_sqlite, on_postgres = ask(sqlite), ask(postgres)
            assert [t.as_dicts() for t in on_postgres] == [t.as_dicts() for t in on_sqlite]
        assert reports.current_order(postgres, ORDER) is not None
    finally:
        sqlite.close()
        postgres.close()


def test_a_role_that_can_write_is_refused(pg_store_url: str) -> None:
    fill(pg_store_url)
    with pytest.raises(StoreError, match=r"^the role pipeline can write to the audit store at "):
        open_pg_read_only(pg_store_url)


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("COMMIT; DELETE FROM events", "cannot insert multiple commands"),
        ("DELETE FROM events", "opened read-only"),
        ("UPDATE orders SET status = 'LOST'", "opened read-only"),
        ("SELECT set_config('transaction_read_only', 'off', false)", "read-write mode"),
        ("SELECT pg_sleep(5)", "ran longer than 0.5 s"),
    ],
)
def test_nothing_escapes_the_read_only_reader(
    pg_store_url: str, statement: str, reason: str
) -> None:
    fill(pg_store_url)
    reader = open_pg_read_only(read_only_url(pg_store_url), timeout_ms=500)
    try:
        with pytest.raises(StoreError, match=reason):
            reader.run(statement)
        assert reader.run("SELECT count(*) FROM events").rows == [(4,)]
    finally:
        reader.close()


def test_rows_past_the_limit_are_left_out_and_said(pg_store_url: str) -> None:
    fill(pg_store_url)
    reader = open_pg_read_only(read_only_url(pg_store_url))
    try:
        answer = reader.run("SELECT kafka_offset FROM events ORDER BY 1", limit=3)
    finally:
        reader.close()
    assert (answer.rows, answer.more) == ([(0,), (1,), (2,)], True)


def test_query_commands_take_a_store_url(pg_store_url: str) -> None:
    fill(pg_store_url)
    runner = CliRunner()
    reader = read_only_url(pg_store_url)
    stats = runner.invoke(cli, ["query", "--store", reader, "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    assert '"SHIPPED"' in stats.output
    order = runner.invoke(cli, ["query", "--store", reader, "order", ORDER])
    assert order.exit_code == 0, order.output
    assert "order 00000000-0000-4000-8000-0000000000bb: SHIPPED" in order.output
    refused = runner.invoke(cli, ["query", "--store", pg_store_url, "sql", "SELECT 1"])
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and "can write to the audit store" in refused.output
