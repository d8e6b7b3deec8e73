"""`bench before-after`: the release before against this tree, alternating, in one run.

    python -m pipeline.benchmark.before_after [--base COMMIT] [--repeats 3] [--quick]
    order-pipeline bench before-after [--base COMMIT] ...

On one broker and registry (the ones named, else throwaway ones), each figure is measured
`--repeats` times per tree, the two trees alternating (and taking turns at going first),
so the load of a shared machine falls on both; figures are medians, and the ratio is
this tree's over the release before's. Every run checks that each event was delivered,
and stored once. The figures:

  producer     delivered events/s of the tree's `produce()` (acks=all, idempotent)
  raw client   the Kafka client alone on the same pre-encoded values and settings, one
               counting callback: the ceiling the producer is held against
  storage      the tree's storage service through its runner, broker and registry, on a
               topic filled beforehand (the same messages for both trees)
  end to end   the tree's producer and storage service together, first event sent to
               last row committed
  latency      p50/p99 at a fixed rate (5,000 events/s), Kafka timestamp to commit
  memory       the storage service's peak RSS over a long run (1,000,000 events)

The machine, and its load before, during and after, are part of the result.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.benchmark import machine_load
from pipeline.benchmark.before_after_report import table
from pipeline.benchmark.before_after_runs import (
    AFTER,
    BEFORE,
    RELEASE_BEFORE,
    BeforeAfterOptions,
    Out,
    Session,
)
from pipeline.benchmark.commandline import (
    add_target_arguments,
    at_least_one,
    run_main,
    say,
    target_of,
)
from pipeline.benchmark.options import RESULTS_DIR, write_results
from pipeline.benchmark.stack import Target, workspace
from pipeline.benchmark.trees import release_before, this_tree

JSON_NAME = "before_after.json"
__all__ = ["RELEASE_BEFORE", "BeforeAfterOptions", "run_before_after", "table", "write_json"]


def run_before_after(target: Target, options: BeforeAfterOptions, out: Out = say) -> dict[str, Any]:
    began = time.monotonic()
    load_before = machine_load.snapshot()
    with tempfile.TemporaryDirectory(prefix="bench-trees-") as folder:
        trees = {BEFORE: release_before(options.base, Path(folder)), AFTER: this_tree()}
        out(f"before: {trees[BEFORE].commit} (unpacked in {trees[BEFORE].path})")
        out(f"after:  {trees[AFTER].commit} ({trees[AFTER].path})")
        with workspace(target) as ws:
            result = Session(ws, trees, options, out).measure_all()
    result["trees"] = {name: {"commit": t.commit} for name, t in trees.items()}
    result["machine"] = machine_load.machine()
    result["load"] = {"before_start": load_before, "at_end": machine_load.snapshot()}
    result["options"] = vars(options)
    result["seconds"] = round(time.monotonic() - began, 1)
    return result


def write_json(result: dict[str, Any], folder: Path) -> Path:
    return write_results(result, folder, JSON_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.before_after", description=__doc__.split("\n")[0]
    )
    defaults = BeforeAfterOptions()
    parser.add_argument(
        "--base", default=RELEASE_BEFORE, help="The release before [%(default).12s]."
    )
    parser.add_argument("--quick", action="store_true", help="Every figure once, small.")
    parser.add_argument(
        "--repeats", type=at_least_one, help=f"Runs per figure; medians [{defaults.repeats}]."
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="[bench/results]")
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    options = defaults.quick() if args.quick else defaults
    options = options.with_(base=args.base, repeats=args.repeats)

    def body() -> None:
        result = run_before_after(target_of(args), options)
        for line in table(result):
            say(line)
        say(f"figures: {write_json(result, args.output)}")

    return run_main(body)


if __name__ == "__main__":
    raise SystemExit(main())
