"""`python -m pipeline.benchmark.registry_servers`: versions of the registry measured side by
side, each from its own source tree in a process of its own; wrk's report read right; every
figure there (timings are not asserted)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.benchmark.registry_servers import (
    CONNECTIONS,
    THIS_TREE,
    ServersOptions,
    parse_wrk,
    run,
    table,
)
from pipeline.config import Settings
from tests.benchmark.helpers import topic_names, topics_gone

WRK_REPORT = """\
Running 8s test @ http://127.0.0.1:8081/schemas/ids/1
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   120.35ms  250.10ms   1.99s    93.12%
    Req/Sec     2.01k   410.22     3.10k    71.00%
  Latency Distribution
     50%   30.12ms
     75%   60.00ms
     90%  250.00ms
     99%    1.10s
  32100 requests in 8.01s, 5.20MB read
  Socket errors: connect 0, read 3, write 0, timeout 87
  Non-2xx or 3xx responses: 2
Requests/sec:   4007.49
Transfer/sec:    664.72KB
"""


def test_wrk_report_is_read_with_its_units() -> None:
    assert parse_wrk(WRK_REPORT) == {
        "per_s": 4007.49,
        "p50_ms": 30.12,
        "p99_ms": 1100.0,
        "timeouts": 87.0,
        "errors": 5.0,
    }
    quiet = WRK_REPORT.replace("timeout 87", "timeout 0").replace("99%    1.10s", "99%  950us")
    assert parse_wrk(quiet)["p99_ms"] == 0.95 and parse_wrk(quiet)["timeouts"] == 0


def test_two_trees_are_measured_in_one_run_and_leave_nothing_behind(
    settings: Settings, tmp_path: Path
) -> None:
    other = tmp_path / "other-version"  # a copy of this version's source, as a checkout would be
    shutil.copytree(THIS_TREE / "pipeline", other / "pipeline")
    before = topic_names(settings)
    small = ServersOptions(
        trees=[other, THIS_TREE], registrations=3, seconds=0.2, load_seconds=1, repeats=1
    )
    results = run(settings, small, own_broker=False)
    assert list(results) == [str(other), str(THIS_TREE)]
    for figures in results.values():
        for connections in CONNECTIONS:
            assert figures[f"wrk_c{connections}_per_s"] > 0
            assert figures[f"wrk_c{connections}_errors"] == 0
        assert figures["register_p50_ms"] > 0 and figures["lookups_1_conn_per_s"] > 0
    header = table(results)[0]
    assert "other-version" in header and THIS_TREE.name in header
    assert topics_gone(settings, topic_names(settings) - before)
