"""`bench registry`: registration latency and schema-by-id lookups per second.

Starts the project's registry in a process of its own (`python -m pipeline.registry`, so
that it does not share this one's GIL) on a free port and a fresh schemas topic, or
measures the registry named by --registry-url / SCHEMA_REGISTRY_URL. Lookups are uncached:
raw HTTP GET /schemas/ids/{id} on one keep-alive connection; a confluent-kafka client with
its cache cleared before each lookup; a fresh client per lookup (mostly the cost of
building a client: its TLS context alone is ~25 ms). The in-run baseline is GET / on the
same server, the HTTP stack alone: the difference is what the registry itself costs.

    python -m pipeline.benchmark.registry [--registrations 200] [--seconds 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from confluent_kafka.schema_registry import Schema

from pipeline import registry_client
from pipeline.benchmark.commandline import (
    add_json_argument,
    add_target_arguments,
    run_main,
    show_figures,
    target_of,
)
from pipeline.benchmark.registry_process import registry_process
from pipeline.benchmark.stack import BenchError, Target, bench_stack
from pipeline.benchmark.stats import percentile
from pipeline.config import Settings
from pipeline.errors import PipelineError

TARGET_LOOKUPS_PER_S = 3000
TARGET_REGISTER_P99_MS = 50.0


@dataclass(frozen=True, kw_only=True)
class RegistryBenchOptions:
    registrations: int = 200  # per repeat, for new subjects and for one evolving subject
    seconds: float = 3.0  # per lookup repeat
    repeats: int = 3  # figures are medians


def record(name: str, extra_fields: int = 0) -> str:
    fields = [{"name": "id", "type": "string"}]
    fields += [{"name": f"f{i}", "type": "string", "default": ""} for i in range(extra_fields)]
    return json.dumps({"type": "record", "name": name, "fields": fields})


def registration_ms(settings: Settings, count: int, evolve: bool, made: list[str]) -> list[float]:
    """Latency of `count` registrations: new subjects, or one subject evolving (BACKWARD).
    Only the registration request is timed; the subjects made are added to `made`."""
    run = uuid.uuid4().hex[:8]
    samples = []
    with registry_client.connected(settings) as client:
        for i in range(count):
            topic = f"bench-{run}-evolve" if evolve else f"bench-{run}-{i}"
            subject = registry_client.value_subject(topic)
            schema = Schema(record(f"E{run}", i) if evolve else record(f"N{run}_{i}"), "AVRO")
            request = partial(client.register_schema, subject, schema)
            began = time.perf_counter()
            registry_client.call(request, f"registering in {subject!r}")
            samples.append((time.perf_counter() - began) * 1000)
            if i == 0 or not evolve:
                made.append(subject)
    return samples


def raw_rate(url: str, path: str, seconds: float) -> float:
    """GETs per second on one keep-alive connection."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=10)
    done, began = 0, time.perf_counter()
    try:
        while time.perf_counter() - began < seconds:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise BenchError(f"GET {url}{path} answered {response.status}, not 200")
            done += 1
    finally:
        conn.close()
    return done / (time.perf_counter() - began)


def client_rate(settings: Settings, schema_id: int, seconds: float) -> float:
    """Lookups per second through confluent-kafka's client, its cache cleared every time."""
    with registry_client.connected(settings) as client:
        done, began = 0, time.perf_counter()  # the client's start-up is not a lookup
        while time.perf_counter() - began < seconds:
            client.clear_caches()
            registry_client.fetch_schema(client, schema_id)
            done += 1
        return done / (time.perf_counter() - began)


def fresh_client_rate(settings: Settings, schema_id: int, seconds: float) -> float:
    """Lookups per second when every lookup uses a new client (so nothing is cached)."""
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        with registry_client.connected(settings) as client:
            registry_client.fetch_schema(client, schema_id)
        done += 1
    return done / (time.perf_counter() - began)


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def measure(settings: Settings, options: RegistryBenchOptions, made: list[str]) -> dict[str, float]:
    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(f"bench-{uuid.uuid4().hex[:8]}")
        schema_id = registry_client.register(client, subject, record("L")).schema_id or 0
    made.append(subject)
    results: dict[str, float] = {}
    for evolve in (False, True):
        label = "evolve" if evolve else "new"
        runs = [
            registration_ms(settings, options.registrations, evolve, made)
            for _ in range(options.repeats)
        ]
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            ranked = [percentile(sorted(r), fraction) for r in runs]
            results[f"register_{label}_{name}_ms"] = statistics.median(ranked)
    url, seconds, repeats = settings.registry_url, options.seconds, options.repeats
    lookup = f"/schemas/ids/{schema_id}"
    results["lookup_raw_per_s"] = median_of(repeats, lambda: raw_rate(url, lookup, seconds))
    results["baseline_root_per_s"] = median_of(repeats, lambda: raw_rate(url, "/", seconds))
    results["lookup_client_nocache_per_s"] = median_of(
        repeats, lambda: client_rate(settings, schema_id, seconds)
    )
    results["lookup_fresh_client_per_s"] = median_of(
        repeats, lambda: fresh_client_rate(settings, schema_id, seconds / 2)
    )
    return results


def run_registry_bench(target: Target, options: RegistryBenchOptions) -> dict[str, float]:
    """Measure the target's registry, or one started for the run in its own process."""
    made: list[str] = []
    if not target.own_registry:
        try:
            return measure(target.settings, options, made)
        finally:
            forget(target.settings, made)
    with (
        bench_stack(target.settings, own_broker=target.own_broker, own_registry=False) as live,
        registry_process(live) as url,
    ):
        return measure(live.with_(registry_url=url), options, made)  # its topic goes after


def forget(settings: Settings, subjects: list[str]) -> None:
    """Delete the subjects made on a registry we keep (best effort: a refusal keeps them)."""
    with registry_client.connected(settings) as client:
        for subject in subjects:
            with suppress(PipelineError):
                registry_client.delete_subject(client, subject, permanent=True)


def summary_lines(results: dict[str, float]) -> list[str]:
    lines = [f"{name:28s} {value:10.1f}" for name, value in results.items()]
    met = (
        results["lookup_raw_per_s"] >= TARGET_LOOKUPS_PER_S
        and results["register_new_p99_ms"] < TARGET_REGISTER_P99_MS
    )
    lines.append(
        f"target (>= {TARGET_LOOKUPS_PER_S} lookups/s, p99 registration < "
        f"{TARGET_REGISTER_P99_MS:.0f} ms): {'met' if met else 'MISSED'}"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.benchmark.registry", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--registrations", type=int, default=200, help="Per repeat [200].")
    parser.add_argument("--seconds", type=float, default=3.0, help="Per lookup repeat [3].")
    parser.add_argument("--repeats", type=int, default=3, help="Figures are medians [3].")
    add_json_argument(parser)
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    options = RegistryBenchOptions(
        registrations=args.registrations, seconds=args.seconds, repeats=args.repeats
    )

    def body() -> None:
        results = run_registry_bench(target_of(args), options)
        show_figures(results, summary_lines(results), args.json)

    return run_main(body)


if __name__ == "__main__":
    raise SystemExit(main())
