"""`bench api`: every figure there and positive (timings are not asserted), on the session's
broker and registry, with the API, the storage service and the producer as processes."""

from __future__ import annotations

import re

from pipeline.benchmark.api import ApiBenchOptions, run_api_bench
from pipeline.benchmark.stack import Target
from pipeline.config import Settings


def test_orders_over_http_and_directly_and_the_dashboards_cost(settings: Settings) -> None:
    lines: list[str] = []
    target = Target(settings, own_broker=False, own_registry=False)
    run_api_bench(target, ApiBenchOptions(seconds=1, rate=300, pages=2), out=lines.append)
    loads = [line for line in lines if "clients:" in line]
    assert len(loads) == 6
    for clients in (1, 8, 32):
        for how in ("over HTTP", "producer called directly"):
            line = next(x for x in loads if how in x and f" {clients} clients:" in x)
            rate = float(re.search(r"([\d,.]+) orders/s", line).group(1).replace(",", ""))  # type: ignore[union-attr]
            assert rate > 0, line
    costs = [line for line in lines if "pages open" in line]
    assert [c.split("pages")[0].strip() for c in costs] == ["0", "2"]
    assert all("% of a core" in c and "MiB" in c for c in costs)
    assert "bytes/s per page" in costs[1]
