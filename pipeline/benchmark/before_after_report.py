"""The before/after table: medians, ratios, the issue's targets, the machine and its load."""

from __future__ import annotations

from typing import Any

BEFORE, AFTER = "before", "after"
# The targets of the hot-path work (issue 15), all measured as ratios in one run.
RATIO_AT_LEAST = 2.0
RAW_SHARE_AT_LEAST = 0.40
P99_MS_AT_MOST = 50.0
MEMORY_MIB_UNDER = 150.0

ROWS = (
    ("producer", "producer, delivered events/s"),
    ("producer_cpu", "producer, events per CPU second"),
    ("storage", "storage service, events/s"),
    ("storage_cpu", "storage, events per CPU second"),
    ("e2e", "end to end, events/s"),
    ("p50", "p50 at {rate:,.0f}/s, ms"),
    ("p99", "p99 at {rate:,.0f}/s, ms"),
)


def table(result: dict[str, Any]) -> list[str]:
    figures, rate = result["figures"], result["options"]["rate"]
    lines = [
        f"before: {result['trees'][BEFORE]['commit']}",
        f"after:  {result['trees'][AFTER]['commit']}",
        f"medians of {result['options']['repeats']} runs each, the trees alternating:",
        f"  {'':34} {'before':>11} {'after':>11} {'ratio':>7}",
    ]
    for name, label in ROWS:
        figure = figures[name]
        ratio = f"{figure['ratio']:.2f}x" if "ratio" in figure else ""
        lines.append(
            f"  {label.format(rate=rate):34} {figure[BEFORE]:>11,.1f} {figure[AFTER]:>11,.1f}"
            f" {ratio:>7}"
        )
    raw = figures["raw"][AFTER]
    lines.append(f"  {'raw client limit, same bytes':34} {'':>11} {raw:>11,.0f}")
    share = {side: figures["producer"][side] / raw for side in (BEFORE, AFTER)}
    lines.append(
        f"  {'producer / raw client limit':34} {share[BEFORE]:>11.0%} {share[AFTER]:>11.0%}"
    )
    memory = result["memory"]
    events = memory[AFTER]["events"]
    lines.append(
        f"  {f'storage peak RSS over {events:,}, MiB':34} "
        f"{memory[BEFORE]['peak_mb']:>11,.0f} {memory[AFTER]['peak_mb']:>11,.0f}"
    )
    return [*lines, *cost_lines(result), *targets(result, share[AFTER]), *machine_lines(result)]


def cost_lines(result: dict[str, Any]) -> list[str]:
    """CPU per event by stage: the in-process stages measured alone, and the rest of each
    process's CPU per event through the broker (the client, the loops, the runner)."""
    figures, stages = result["figures"], result.get("stages")
    if not stages:
        return []
    rows: list[tuple[str, dict[str, float]]] = []
    for key, label in (("generate_us", "generate"), ("encode_us", "encode")):
        rows.append((label, {side: stages[side][key] for side in (BEFORE, AFTER)}))
    rest = {side: 1e6 / figures["producer_cpu"][side] for side in (BEFORE, AFTER)}
    rows.append(("produce (client, loop: the rest)", _less(rest, rows)))
    kept = len(rows)
    for key, label in (("decode_us", "decode"), ("store_us", "store (rows, orders, positions)")):
        rows.append((label, {side: stages[side][key] for side in (BEFORE, AFTER)}))
    rest = {side: 1e6 / figures["storage_cpu"][side] for side in (BEFORE, AFTER)}
    rows.append(("consume, commit, runner (the rest)", _less(rest, rows[kept:])))
    batches = "/".join(f"{stages[side]['batch']:.0f}" for side in (BEFORE, AFTER))
    lines = [f"  CPU per event, us (store batches {batches}); ratio: before / after"]
    for label, by_side in rows:
        before, after = by_side[BEFORE], by_side[AFTER]
        ratio = f"{before / after:.2f}x" if after > 0 else ""
        lines.append(f"    {label:32} {before:>11.1f} {after:>11.1f} {ratio:>7}")
    return lines


def _less(total: dict[str, float], parts: list[tuple[str, dict[str, float]]]) -> dict[str, float]:
    return {side: total[side] - sum(p[side] for _, p in parts) for side in (BEFORE, AFTER)}


def targets(result: dict[str, Any], raw_share: float) -> list[str]:
    figures = result["figures"]
    checks = [
        ("producer >= 2x", figures["producer"].get("ratio", 0) >= RATIO_AT_LEAST),
        ("producer per core >= 2x", figures["producer_cpu"].get("ratio", 0) >= RATIO_AT_LEAST),
        ("producer >= 40 % of the raw client", raw_share >= RAW_SHARE_AT_LEAST),
        ("storage service >= 2x", figures["storage"].get("ratio", 0) >= RATIO_AT_LEAST),
        ("storage per core >= 2x", figures["storage_cpu"].get("ratio", 0) >= RATIO_AT_LEAST),
        ("end to end >= 2x", figures["e2e"].get("ratio", 0) >= RATIO_AT_LEAST),
        (f"p99 <= {P99_MS_AT_MOST:.0f} ms", figures["p99"][AFTER] <= P99_MS_AT_MOST),
        (
            f"memory < {MEMORY_MIB_UNDER:.0f} MiB",
            result["memory"][AFTER]["peak_mb"] < MEMORY_MIB_UNDER,
        ),
    ]
    return ["targets: " + ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks)]


def machine_lines(result: dict[str, Any]) -> list[str]:
    machine, load = result["machine"], result["load"]
    busy = [b for figure in result["figures"].values() for b in figure["runs"].get("load", [])]
    shown = f"{min(busy):.0f}-{max(busy):.0f} %" if busy else "not measured"
    return [
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, librdkafka {machine['librdkafka']}",
        f"load: 1-minute average {load['before_start']['load_1m']:.2f} before the run, "
        f"{load['at_end']['load_1m']:.2f} at its end; all cores {shown} busy during runs "
        f"(the benchmark's own processes included); {result['seconds']:.0f} s in all",
    ]
