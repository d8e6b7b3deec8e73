"""Benchmark the schema registry: registration latency and schema-by-id lookups per second.

Starts its own registry (`cli.py registry serve`, a separate process so that it does not
share this one's GIL) on a fresh topic of the given broker, or measures --registry-url.
Lookups are uncached: raw HTTP GET /schemas/ids/{id} on one keep-alive connection; a
confluent-kafka client with its cache cleared before each lookup; a fresh client per
lookup (mostly the cost of building a client: its TLS context alone is ~25 ms). The
in-run baseline is GET / on the same server, the HTTP stack alone: the difference is
what the registry itself costs per lookup.

Example: python bench/registry_bench.py --bootstrap-servers 127.0.0.1:29092
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

ROOT = Path(__file__).resolve().parents[1]


def record(name: str, extra_fields: int = 0) -> str:
    fields = [{"name": "id", "type": "string"}]
    fields += [{"name": f"f{i}", "type": "string", "default": ""} for i in range(extra_fields)]
    return json.dumps({"type": "record", "name": name, "fields": fields})


@contextmanager
def own_registry(bootstrap: str) -> Iterator[str]:
    """A registry process on a free port and a fresh topic; stopped and cleaned up after."""
    topic = f"_schemas-bench-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "cli.py", "--bootstrap-servers", bootstrap, "registry", "serve"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SCHEMA_REGISTRY_BASIC_AUTH_USERS", None)
    process = subprocess.Popen(
        [*command, "--port", "0", "--topic", topic], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        found = re.search(r"listening on (http://\S+)", line)
        if found is None:
            raise SystemExit(f"the registry did not start: {line.strip() or 'no output'}")
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        AdminClient({"bootstrap.servers": bootstrap}).delete_topics([topic], operation_timeout=10)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def registration_ms(url: str, count: int, evolve: bool) -> list[float]:
    """Latency of `count` registrations: new subjects, or one subject evolving (BACKWARD)."""
    run = uuid.uuid4().hex[:8]
    samples = []
    with SchemaRegistryClient({"url": url}) as client:
        for i in range(count):
            subject = f"bench-{run}-evolve-value" if evolve else f"bench-{run}-{i}-value"
            text = record(f"E{run}", i) if evolve else record(f"N{run}_{i}")
            began = time.perf_counter()
            client.register_schema(subject, Schema(text, "AVRO"))
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def raw_rate(url: str, path: str, seconds: float) -> float:
    """GETs per second on one keep-alive connection."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    done, began = 0, time.perf_counter()
    try:
        while time.perf_counter() - began < seconds:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            done += 1
    finally:
        conn.close()
    return done / (time.perf_counter() - began)


def client_rate(url: str, schema_id: int, seconds: float) -> float:
    """Lookups per second through confluent-kafka's client, its cache cleared every time."""
    done, began = 0, time.perf_counter()
    with SchemaRegistryClient({"url": url}) as client:
        while time.perf_counter() - began < seconds:
            client.clear_caches()
            client.get_schema(schema_id)
            done += 1
    return done / (time.perf_counter() - began)


def fresh_client_rate(url: str, schema_id: int, seconds: float) -> float:
    """Lookups per second when every lookup uses a new client (so nothing is cached)."""
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        with SchemaRegistryClient({"url": url}) as client:
            client.get_schema(schema_id)
        done += 1
    return done / (time.perf_counter() - began)


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def run(url: str, args: argparse.Namespace) -> dict[str, float]:
    with SchemaRegistryClient({"url": url}) as client:
        schema_id = client.register_schema(
            f"bench-{uuid.uuid4().hex[:8]}-value", Schema(record("L"))
        )
    results: dict[str, float] = {}
    for evolve in (False, True):
        label = "evolve" if evolve else "new"
        runs = [registration_ms(url, args.registrations, evolve) for _ in range(args.repeats)]
        results[f"register_{label}_p50_ms"] = statistics.median(percentile(r, 0.5) for r in runs)
        results[f"register_{label}_p99_ms"] = statistics.median(percentile(r, 0.99) for r in runs)
    seconds = args.seconds
    results["lookup_raw_per_s"] = median_of(
        args.repeats, lambda: raw_rate(url, f"/schemas/ids/{schema_id}", seconds)
    )
    results["baseline_root_per_s"] = median_of(args.repeats, lambda: raw_rate(url, "/", seconds))
    results["lookup_client_nocache_per_s"] = median_of(
        args.repeats, lambda: client_rate(url, schema_id, seconds)
    )
    results["lookup_fresh_client_per_s"] = median_of(
        args.repeats, lambda: fresh_client_rate(url, schema_id, seconds / 2)
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry-url", help="Measure this registry instead of starting one.")
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    )
    parser.add_argument("--registrations", type=int, default=200, help="Per repeat [200].")
    parser.add_argument("--seconds", type=float, default=3.0, help="Per lookup repeat [3].")
    parser.add_argument("--repeats", type=int, default=3, help="Figures are medians [3].")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    if args.registry_url:
        results = run(args.registry_url, args)
    else:
        with own_registry(args.bootstrap_servers) as url:
            results = run(url, args)
    for name, value in results.items():
        print(f"{name:28s} {value:10.1f}")
    verdict = results["lookup_raw_per_s"] >= 3000 and results["register_new_p99_ms"] < 50
    print(f"target (>= 3000 lookups/s, p99 registration < 50 ms): {'met' if verdict else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
