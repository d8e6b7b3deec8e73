"""`bench devstack`: how long `dev up` takes (cold, jars downloaded; warm) and the broker's memory.

Each run uses a fresh stack folder on free ports; "cold" also uses an empty Maven
repository, so Maven downloads every jar. Prints medians.

    python -m pipeline.benchmark.devstack [--runs 3] [--skip-cold]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.benchmark.commandline import Out, run_main, say
from pipeline.devstack import stack
from pipeline.devstack.processes import find_running, marker
from pipeline.devstack.testing import test_stack_settings

HEAP = "512m"
HOME_PREFIX = "bench-devstack-"  # each start's stack folder
MiB = 2**20


@dataclass(frozen=True, kw_only=True)
class DevstackBenchOptions:
    runs: int = 3  # warm starts; figures are medians
    cold: bool = True  # also one start with an empty Maven repository
    settle_s: float = 10.0  # memory is read this long after the broker answers


@contextmanager
def maven_repository(path: str | None) -> Iterator[None]:
    """Maven uses `path` as its local repository for the block (None: its usual one)."""
    previous = os.environ.get("MAVEN_OPTS")
    if path:
        os.environ["MAVEN_OPTS"] = f"-Dmaven.repo.local={path}"
    try:
        yield
    finally:
        if path:
            os.environ.pop("MAVEN_OPTS", None)
            if previous is not None:
                os.environ["MAVEN_OPTS"] = previous


def one_up(maven_repo: str | None, settle_s: float) -> tuple[float, float]:
    """Seconds until the broker answers, and its resident memory (MiB) `settle_s` later."""
    with maven_repository(maven_repo), tempfile.TemporaryDirectory(prefix=HOME_PREFIX) as home:
        settings = test_stack_settings(Path(home), heap=HEAP)
        try:
            began = time.monotonic()
            stack.start_kafka(settings)
            seconds = time.monotonic() - began
            time.sleep(settle_s)
            running = find_running(settings.pid_file("kafka"), marker(settings.home))
            rss = (running.rss_bytes if running else 0) / MiB
        finally:
            stack.down(settings)
    return seconds, rss


def run_devstack_bench(options: DevstackBenchOptions, out: Out = say) -> dict[str, Any]:
    result: dict[str, Any] = {"runs": options.runs, "heap": HEAP}
    if options.cold:
        with tempfile.TemporaryDirectory() as repo:
            cold, _ = one_up(repo, options.settle_s)
        out(f"dev up, cold (empty Maven repository, jars downloaded): {cold:.1f} s")
        result["cold_s"] = round(cold, 1)
    warm = [one_up(None, options.settle_s) for _ in range(options.runs)]
    seconds = statistics.median(s for s, _ in warm)
    rss = statistics.median(r for _, r in warm)
    out(f"dev up, warm (jars cached), median of {options.runs}: {seconds:.1f} s")
    out(
        f"broker resident memory {options.settle_s:g} s after start, median: {rss:.0f} MiB "
        f"(heap max {HEAP})"
    )
    result.update(warm_s=round(seconds, 1), rss_mb=round(rss))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.devstack", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3, help="Warm starts; medians [3].")
    parser.add_argument("--skip-cold", action="store_true", help="No start with empty Maven.")
    args = parser.parse_args(argv)
    options = DevstackBenchOptions(runs=args.runs, cold=not args.skip_cold)
    return run_main(lambda: run_devstack_bench(options))


if __name__ == "__main__":
    raise SystemExit(main())
