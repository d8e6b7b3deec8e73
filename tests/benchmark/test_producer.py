"""`bench producer` on the session's broker and registry: every figure there and positive
(timings on a shared machine are not asserted), and nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.benchmark.producer import (
    ProducerBenchOptions,
    run_producer_bench,
    summary_lines,
    write_json,
)
from pipeline.benchmark.stack import Target
from pipeline.config import Settings
from tests.benchmark.conftest import OpenedClients
from tests.benchmark.helpers import topic_names, topics_gone


def test_a_small_producer_run_gives_every_figure_and_cleans_up(
    settings: Settings, opened_clients: OpenedClients, tmp_path: Path
) -> None:
    before = topic_names(settings)
    options = ProducerBenchOptions(events=500, runs=2, warmup_events=100, encode_events=200)
    lines: list[str] = []
    result = run_producer_bench(
        Target(settings, own_broker=False, own_registry=False), options, out=lines.append
    )
    assert [line.split(":")[0] for line in lines] == ["run 1", "run 2"]
    for side in ("ours", "baseline"):
        assert result["producer_events_per_s"][side] > 0
        assert result["encode_only_events_per_s"][side] > 0
        assert len(result["all_runs"][side]) == 2
    assert result["ratio"] > 0 and result["events_per_run"] == 500
    assert any("(confluent-kafka AvroSerializer)" in line for line in summary_lines(result))
    written = json.loads(write_json(result, tmp_path / "out").read_text())
    assert written == result
    assert topics_gone(settings, topic_names(settings) - before)
    assert opened_clients.left_open() == 0
