"""The stateful services' price: at-least-once against exactly-once, and restore times.

In one run, on one topic of seeded events (with anomalies, so the order processor has
alerts to write): each stateful service consumes the whole topic under each guarantee,
alternating, `repeats` times, each run with a fresh group and state folder; the rate is
events over the time from the first batch to the last. The cost of exactly-once is the
median of each round's ratio (the two runs of a round are seconds apart, so a load that
drifts on a shared machine weighs on both alike); the machine's cores and load average
are printed with it. Then the state of `orders` orders
is written through the state manager (one transaction per 5,000 orders, as a service
would) and restored twice on a fresh assignment: from the changelog alone (the state
folder deleted) and from the local file (nothing to catch up).

    python -m pipeline.benchmark.stateful [--events N] [--orders N ...] [--repeats N]
        [--batch-size N] [--services order-processor analytics] [--no-restore]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from pipeline.benchmark.stack import Lane, Workspace, bench_stack
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.model import PartitionRef
from pipeline.producer import ProduceOptions, send_events
from pipeline.serde import AvroEncoder
from pipeline.services.analytics import Analytics
from pipeline.services.guarantees import Guarantee, batch_output
from pipeline.services.order_processor import OrderProcessor
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.state.manager import StateManager
from pipeline.services.summary import RunSummary

RESULTS = Path("bench/results/stateful.json")
ORDERS_PER_TRANSACTION = 5_000
# At-least-once commits each batch of at most this many; exactly-once takes up to
# RunOptions.transaction_batch_size (or this, if larger) of a backlog per transaction.
BATCH_SIZE = 1000


def service_rate(
    lane: Lane, name: str, guarantee: Guarantee, events: int, folder: Path, batch_size: int
) -> float:
    """Events/s of one run of `name` over the lane's topic, first batch to last."""
    settings = lane.settings.with_(state_dir=folder / f"state-{time.time_ns()}")
    service = OrderProcessor(settings) if name == "order-processor" else Analytics(settings)
    marks: list[float] = []

    def tick(summary: RunSummary) -> None:
        if summary.consumed and not marks:
            marks.append(time.perf_counter())
        if summary.consumed >= events and len(marks) == 1:
            marks.append(time.perf_counter())

    group = f"{lane.group}-{name}-{guarantee.value}-{time.time_ns()}"
    options = RunOptions(
        group_id=group,
        max_events=events,
        idle_timeout_s=30,
        handle_signals=False,
        guarantee=guarantee,
        batch_size=batch_size,
    )
    summary = Runner(settings, service, options, on_tick=tick).run()
    if summary.consumed < events or len(marks) < 2:
        raise RuntimeError(f"{name} read {summary.consumed} of {events} events")
    # The first batch's events were read before the first mark: count them out.
    first_batch = summary.consumed / max(1, summary.batches)
    return (events - first_batch) / (marks[1] - marks[0])


def restore_times(settings: Settings, orders: int, folder: Path) -> dict[str, float]:
    """Write `orders` orders' state to a one-partition changelog; time two restores."""
    admin = Admin.from_settings(settings)
    ref = PartitionRef(settings.topic, 0, admin.topic_ids([settings.topic])[settings.topic])
    state_dir = folder / f"restore-{orders}"
    manager = StateManager(settings, state_dir)
    output = batch_output(settings, Guarantee.EXACTLY_ONCE, f"bench-{time.time_ns()}")
    manager.open("bench")
    output.start()
    manager.assigned([ref])
    table = manager.table(0)
    started = time.perf_counter()
    for first in range(0, orders, ORDERS_PER_TRANSACTION):
        output.begin()
        for number in range(first, min(orders, first + ORDERS_PER_TRANSACTION)):
            event_ids = [f"{number:012d}-e{step}" for step in range(3)]
            table.put(f"o:order-{number:09d}", ["SHIPPED", 1_735_689_600_000 + number, event_ids])
        manager.stage(output, {ref: first})
        output.producer.commit([], None)
        manager.committed()
    written = time.perf_counter() - started
    manager.close()
    output.close()
    times = {"write_s": written}
    for source in ("changelog", "local file"):
        if source == "changelog":
            shutil.rmtree(state_dir)
        again = StateManager(settings, state_dir)
        again.open("bench")
        began = time.perf_counter()
        again.assigned([ref])
        times[f"restore_{source.replace(' ', '_')}_s"] = time.perf_counter() - began
        if again.restores[0].source != source:
            raise RuntimeError(f"restored from the {again.restores[0].source}, not the {source}")
        again.close()
    return times


SERVICES = ("order-processor", "analytics")


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores and the load average (1 minute)."""
    return {"cores": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 1)}


def run(
    settings: Settings,
    events: int,
    orders: list[int],
    repeats: int,
    services: tuple[str, ...] = SERVICES,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-stateful-") as tmp:
        folder = Path(tmp)
        workspace = Workspace(settings, folder, keep_nothing=False)
        lane = workspace.lane("stateful")
        encoder = AvroEncoder(lane.schema_id, lane.schema_str)
        stream = generate_events(seed=42, orders=500, start_ms=1_735_689_600_000, anomaly_rate=0.01)
        sent = send_events(lane.settings, encoder, islice(stream, events), ProduceOptions())
        if sent.delivered != events:
            raise RuntimeError(f"only {sent.delivered} of {events} events delivered")
        rates: dict[str, dict[str, list[float]]] = {}
        loads = [machine()]
        for round_number in range(1, repeats + 1):
            for name in services:
                # Alternate which guarantee goes first, so neither always gets a warm start.
                order = list(Guarantee) if round_number % 2 else list(reversed(Guarantee))
                for guarantee in order:
                    rate = service_rate(lane, name, guarantee, events, folder, batch_size)
                    rates.setdefault(name, {}).setdefault(guarantee.value, []).append(rate)
                by = rates[name]
                loads.append(machine())
                print(
                    f"round {round_number}/{repeats} {name}: "
                    f"at-least-once {by['at-least-once'][-1]:,.0f}/s, "
                    f"exactly-once {by['exactly-once'][-1]:,.0f}/s "
                    f"(load {loads[-1]['load_1m']} on {loads[-1]['cores']} cores)",
                    flush=True,
                )
        restores = {str(n): restore_times(_one_partition(lane.settings), n, folder) for n in orders}
    return {
        "events": events,
        "repeats": repeats,
        "batch_size": batch_size,
        "rates": rates,
        "restores": restores,
        "machine": {"cores": os.cpu_count(), "load_1m": [m["load_1m"] for m in loads]},
    }


def cost(by_guarantee: dict[str, list[float]]) -> float:
    """Exactly-once's cost: the median of the rounds' 1 - exactly-once / at-least-once."""
    pairs = zip(by_guarantee["exactly-once"], by_guarantee["at-least-once"], strict=True)
    return statistics.median(1 - eo / alo for eo, alo in pairs)


def _one_partition(settings: Settings) -> Settings:
    topic = f"{settings.topic}-1p-{time.time_ns()}"
    Admin.from_settings(settings).ensure([TopicSpec(topic, 1)])
    return settings.with_(topic=topic, partitions=1)


def describe(result: dict[str, Any]) -> list[str]:
    lines = [f"stateful services over {result['events']:,} events (median of {result['repeats']})"]
    if "batch_size" in result:
        most = max(result["batch_size"], RunOptions().transaction_batch_size)
        lines.append(
            f"batches: at-least-once {result['batch_size']:,} at most; exactly-once up to "
            f"{most:,} of a backlog per transaction"
        )
    if "machine" in result:
        loads = result["machine"]["load_1m"]
        lines.append(
            f"machine: {result['machine']['cores']} cores, load average "
            f"{min(loads)}-{max(loads)} during the runs"
        )
    lines.append(
        "| service | at-least-once (events/s) | exactly-once (events/s) "
        "| cost (median of the rounds' ratios) |"
    )
    lines.append("|---|---|---|---|")
    for name, by_guarantee in result["rates"].items():
        alo = statistics.median(by_guarantee["at-least-once"])
        eo = statistics.median(by_guarantee["exactly-once"])
        lines.append(f"| {name} | {alo:,.0f} | {eo:,.0f} | {100 * cost(by_guarantee):+.1f} % |")
    lines.append("")
    if not result["restores"]:
        return lines
    lines.append(
        "| orders' state | written (s) | restore, changelog alone (s) | restore, local file (s) |"
    )
    lines.append("|---|---|---|---|")
    for orders, times in result["restores"].items():
        lines.append(
            f"| {int(orders):,} | {times['write_s']:.1f} | "
            f"{times['restore_changelog_s']:.2f} | {times['restore_local_file_s']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help="at-least-once's batch (exactly-once: up to 5,000 of a backlog, or this if larger)",
    )
    parser.add_argument("--services", nargs="+", choices=SERVICES, default=list(SERVICES))
    parser.add_argument("--no-restore", action="store_true", help="skip the restore timings")
    parser.add_argument("--bootstrap-servers")
    parser.add_argument("--registry-url")
    args = parser.parse_args()
    settings = Settings.from_env(
        bootstrap_servers=args.bootstrap_servers, registry_url=args.registry_url
    ).with_(partitions=6)
    own = {"own_broker": not args.bootstrap_servers, "own_registry": not args.registry_url}
    with bench_stack(settings, **own) as ready:
        orders = [] if args.no_restore else args.orders
        result = run(
            ready, args.events, orders, args.repeats, tuple(args.services), args.batch_size
        )
    for line in describe(result):
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
