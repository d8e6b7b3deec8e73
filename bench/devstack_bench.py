"""How long `dev up` takes (cold, with Kafka's jars downloaded; warm) and the broker's memory.

Each run uses a fresh stack folder on free ports; "cold" also uses an empty Maven
repository, so Maven downloads every jar. Prints medians; run it as
`python bench/devstack_bench.py [--runs 3] [--skip-cold]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.devstack import stack
from pipeline.devstack.processes import find_running, marker
from pipeline.devstack.testing import test_stack_settings


def one_up(maven_repo: str | None) -> tuple[float, float]:
    """Seconds until the broker answers, and its resident memory (MiB) 10 s later."""
    previous = os.environ.get("MAVEN_OPTS")
    if maven_repo:
        os.environ["MAVEN_OPTS"] = f"-Dmaven.repo.local={maven_repo}"
    with tempfile.TemporaryDirectory() as home:
        settings = test_stack_settings(Path(home), heap="512m")
        try:
            began = time.monotonic()
            stack.start_kafka(settings)
            seconds = time.monotonic() - began
            time.sleep(10)
            running = find_running(settings.pid_file("kafka"), marker(settings.home))
            rss = (running.rss_bytes if running else 0) / 2**20
        finally:
            stack.down(settings)
            if maven_repo:
                os.environ.pop("MAVEN_OPTS", None)
                if previous is not None:
                    os.environ["MAVEN_OPTS"] = previous
    return seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as repo:
            cold, _ = one_up(repo)
        print(f"dev up, cold (empty Maven repository, jars downloaded): {cold:.1f} s")
    warm = [one_up(None) for _ in range(args.runs)]
    seconds = statistics.median(s for s, _ in warm)
    rss = statistics.median(r for _, r in warm)
    print(f"dev up, warm (jars cached), median of {args.runs}: {seconds:.1f} s")
    print(f"broker resident memory 10 s after start, median: {rss:.0f} MiB (heap max 512m)")


if __name__ == "__main__":
    main()
