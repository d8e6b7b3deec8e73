"""The terminal views of `consume` (pure: no server)."""

from __future__ import annotations

from pipeline.cli.views import render
from pipeline.services.analytics import Aggregator


def test_render_draws_one_row_per_status_source_and_measure() -> None:
    agg = Aggregator(clock=lambda: 100.0)
    agg.add("PLACED", "MOBILE", "o1")
    table = render(agg.snapshot())
    assert table.row_count == 5 + 3 + 3  # statuses (CANCELLED too), sources, measures
