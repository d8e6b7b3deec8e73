"""`python -m pipeline.benchmark.registry_servers`: this registry against other versions of it,
in one run, on the same broker: what changing its HTTP stack (or anything else) cost or won.

Each version runs as a process of its own (`python -m pipeline.registry`, from its source
tree: `--baseline-tree` names a checkout, e.g. `git worktree add /tmp/main main`; this tree
is always measured), on a fresh schemas topic. For each: registration latency (new subjects,
p50/p99 through confluent-kafka's client), uncached lookups per second on one keep-alive
connection (raw GET /schemas/ids/{id}), and under concurrent load: `wrk` (a C load
generator; `apt-get install wrk`) with 1, 64 and 256 keep-alive connections on the same
lookup: requests/s, p50, p99, and requests that got no answer within wrk's 2 s timeout.
The versions take turns within each repeat, so they share the machine's moments alike.

    python -m pipeline.benchmark.registry_servers --baseline-tree /tmp/main [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pipeline import registry_client
from pipeline.benchmark.commandline import (
    add_json_argument,
    add_target_arguments,
    run_main,
    say,
    show_figures,
    target_of,
)
from pipeline.benchmark.registry import raw_rate, record, registration_ms
from pipeline.benchmark.registry_process import registry_process
from pipeline.benchmark.stack import BenchError, bench_stack
from pipeline.benchmark.stats import percentile
from pipeline.config import Settings

THIS_TREE = Path(__file__).resolve().parents[2]
CONNECTIONS = (1, 64, 256)
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
Results = dict[str, dict[str, float]]  # per source tree, figure -> value


@dataclass(frozen=True, kw_only=True)
class ServersOptions:
    trees: Sequence[Path]  # the versions to measure; this tree last
    registrations: int = 100
    seconds: float = 3.0  # lookups on one connection, per repeat
    load_seconds: int = 8  # each wrk run
    repeats: int = 3


def wrk(url: str, connections: int, seconds: int) -> dict[str, float]:
    """One wrk run: requests/s, p50/p99 (ms), and the requests that timed out or failed."""
    threads = min(2, connections)  # one per core, and wrk wants a connection per thread
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "2s",
    ]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {(done.stderr or done.stdout).strip()[:300]}")
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> dict[str, float]:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rate is None:
        raise BenchError(f"wrk said no rate: {text.strip()[:300]}")
    figures = {"per_s": float(rate.group(1))}
    for name, label in (("p50_ms", "50%"), ("p99_ms", "99%")):
        found = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        figures[name] = round(float(found.group(1)) * UNITS_MS[found.group(2)], 3) if found else 0.0
    timeouts = re.search(r"timeout (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    figures["timeouts"] = float(timeouts.group(1)) if timeouts else 0.0
    figures["errors"] = sum(float(n) for n in errors.groups()) if errors else 0.0
    figures["errors"] += float(non_2xx.group(1)) if non_2xx else 0.0
    return figures


def measure_once(settings: Settings, options: ServersOptions) -> dict[str, float]:
    """Every figure of one registry, once."""
    made: list[str] = []
    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(f"bench-{uuid.uuid4().hex[:8]}")
        schema_id = registry_client.register(client, subject, record("L")).schema_id or 0
    samples = sorted(registration_ms(settings, options.registrations, False, made))
    figures = {
        "register_p50_ms": percentile(samples, 0.5),
        "register_p99_ms": percentile(samples, 0.99),
    }
    lookup = f"{settings.registry_url}/schemas/ids/{schema_id}"
    figures["lookups_1_conn_per_s"] = raw_rate(
        settings.registry_url, f"/schemas/ids/{schema_id}", options.seconds
    )
    for connections in CONNECTIONS:
        for name, value in wrk(lookup, connections, options.load_seconds).items():
            figures[f"wrk_c{connections}_{name}"] = value
    return figures


def run(
    settings: Settings, options: ServersOptions, own_broker: bool
) -> dict[str, dict[str, float]]:
    """Per tree, the median of each figure over the repeats."""
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    runs: dict[str, list[dict[str, float]]] = {str(tree): [] for tree in options.trees}
    with ExitStack() as stack:
        live = stack.enter_context(bench_stack(settings, own_broker=own_broker, own_registry=False))
        urls = {
            str(tree): stack.enter_context(registry_process(live, source=tree))
            for tree in options.trees
        }
        for repeat in range(options.repeats):
            for tree, url in urls.items():
                say(f"repeat {repeat + 1}/{options.repeats}: {tree}")
                runs[tree].append(measure_once(live.with_(registry_url=url), options))
    return {
        tree: {key: round(statistics.median(r[key] for r in results), 2) for key in results[0]}
        for tree, results in runs.items()
    }


def table(results: Results) -> list[str]:
    trees = list(results)
    lines = ["figure".ljust(26) + "".join(Path(t).name[-18:].rjust(20) for t in trees)]
    for key in results[trees[0]]:
        lines.append(key.ljust(26) + "".join(f"{results[t][key]:20,.1f}" for t in trees))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.registry_servers", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        action="append",
        default=[],
        help="A source tree of another version (repeatable); this tree is always measured.",
    )
    parser.add_argument("--registrations", type=int, default=100, help="Per repeat [100].")
    parser.add_argument("--seconds", type=float, default=3.0, help="One-connection lookups [3].")
    parser.add_argument("--load-seconds", type=int, default=8, help="Each wrk run [8].")
    parser.add_argument("--repeats", type=int, default=3, help="Figures are medians [3].")
    add_json_argument(parser)
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    target = target_of(args)
    options = ServersOptions(
        trees=list(dict.fromkeys([*(t.resolve() for t in args.baseline_tree), THIS_TREE])),
        registrations=args.registrations,
        seconds=args.seconds,
        load_seconds=args.load_seconds,
        repeats=args.repeats,
    )

    def body() -> None:
        results = run(target.settings, options, target.own_broker)
        show_figures(results, table(results), args.json)

    return run_main(body)


if __name__ == "__main__":
    raise SystemExit(main())
