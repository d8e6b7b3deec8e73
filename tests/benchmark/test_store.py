"""`bench store`: the audit store alone, on small counts (no server); every figure there and
positive, the baseline written through the textbook baseline's own table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline.benchmark.store import StoreBenchOptions, decoded_batches, run_store_bench
from pipeline.benchmark.textbook import TextbookTable, count_rows

SMALL = StoreBenchOptions(events=1_500, runs=1, compare_events=600, per_event_events=40)


def test_a_small_store_run_gives_every_figure() -> None:
    lines: list[str] = []
    result = run_store_bench(SMALL, out=lines.append)
    rates = [value for key, value in result.items() if key.endswith("events_per_s")]
    assert len(rates) == 6 and all(rate > 0 for rate in rates), result
    assert result["rss_mb"]["peak"] > 0
    assert lines[0] == "audit store, 1,500 events in batches of 500, 1 runs:"
    assert any(line.startswith("  textbook (journal, sync=FULL):") for line in lines)
    assert lines[-1].startswith("store vs textbook baseline: ")


def test_decoded_batches_are_shaped_as_the_decoder_hands_them_over() -> None:
    batches = list(decoded_batches(1_100, 500))
    assert [len(batch) for batch in batches] == [500, 500, 100]
    first = batches[0][0]
    assert first.value["timestamp"].tzinfo is not None
    assert first.schema.subject == "order-events-value"
    assert [e.offset for e in batches[1][:2]] == [500, 501]


def test_the_textbook_table_commits_each_row_on_a_default_connection(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    table = TextbookTable.open(path)
    try:
        for (event,) in decoded_batches(3, 1):
            table.store(event.value)
            assert count_rows(path) == event.offset + 1  # committed: another connection sees it
    finally:
        table.close()
    with sqlite3.connect(str(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
