"""The API's benchmark: POST /orders against the producer called directly, and the
dashboard's server cost while the pipeline runs at 5,000 events/s with 20 pages open.

One run, on the broker and registry named by the flags or the environment, else on a
throwaway broker and the project's registry started for it (as every benchmark here):

1. Orders: for 1, 8 and 32 concurrent clients, each sending one order after the other,
   the rate of acknowledged orders and the latency p50/p99 of each — over HTTP to the API
   in a process of its own (keep-alive connections), and in the same run the baseline: the
   same governed path (`OrderWriter.place`, acks=all) called directly by as many threads.
2. Dashboard: the storage service and a producer at 5,000 events/s run as processes; the
   API process's CPU and memory are sampled with no page open, then with 20 open
   (`/events/stream`, as the dashboard reads it), each for the same time.

    python cli.py bench api [--seconds 10] [--rate 5000] [--pages 20]
    python -m pipeline.benchmark.api [the same options]
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from pipeline import registry_client
from pipeline.benchmark.commandline import Out, add_target_arguments, run_main, say, target_of
from pipeline.benchmark.stack import Target, bench_stack
from pipeline.benchmark.stats import percentile
from pipeline.config import Settings
from pipeline.devstack.processes import free_port, wait_until
from pipeline.kafka.admin import ensure_topics
from pipeline.orders import OrderWriter
from pipeline.schema_files import ORDER_EVENT_V2, load_schema_file

CONCURRENCY = (1, 8, 32)
BODY: dict[str, object] = {
    "user_id": "user-bench",
    "source": "API",
    "amount": 10.0,
    "currency": "EUR",
}


@dataclass(frozen=True)
class Load:
    clients: int
    rate: float
    p50_ms: float
    p99_ms: float

    def line(self, label: str) -> str:
        return (
            f"{label:<28} {self.clients:>3} clients: {self.rate:>7,.0f} orders/s  "
            f"p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms"
        )


def _load(clients: int, samples: list[float], seconds: float) -> Load:
    ordered = sorted(samples)
    return Load(
        clients, len(samples) / seconds, percentile(ordered, 0.5), percentile(ordered, 0.99)
    )


def over_http(url: str, clients: int, seconds: float) -> Load:
    """`clients` threads, one keep-alive connection each, one order after the other.

    The standard library's client: httpx's AsyncClient was measured here as the bottleneck
    itself (its pool: 30 orders/s at 32 clients, where these threads reach ten times that).
    """
    parts = urlsplit(url)
    body = json.dumps(BODY).encode()
    headers = {"Content-Type": "application/json"}
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def caller() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                conn.request("POST", "/orders", body, headers)
                answer = conn.getresponse()
                answer.read()
                if answer.status == 202:
                    with lock:
                        samples.append((time.perf_counter() - began) * 1000)
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(caller) for _ in range(clients)]:
            future.result()
    return _load(clients, samples, seconds)


def direct(writer: OrderWriter, clients: int, seconds: float) -> Load:
    """The same governed path without HTTP: `clients` threads calling `place` and waiting."""
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def caller() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.place(user_id="user-bench", source="API", amount=10.0, currency="EUR").result(
                timeout=30
            )
            with lock:
                samples.append((time.perf_counter() - began) * 1000)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(caller) for _ in range(clients)]:
            future.result()
    return _load(clients, samples, seconds)


def _python(settings: Settings, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
        *args,
    ]


@contextmanager
def process(command: list[str], log: Path) -> Iterator[psutil.Process]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def api_process(settings: Settings, folder: Path) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    command = _python(settings, "api", "serve", "--port", str(port), "--topic", settings.topic)
    command += ["--db", str(settings.db_path)]
    with process(command, folder / "api.log") as proc:
        url = f"http://127.0.0.1:{port}"
        if not wait_until(lambda: _answers(url), 60):
            raise RuntimeError(f"the API did not start; see {folder / 'api.log'}")
        yield url, proc


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Cost:
    pages: int
    cpu_percent: float  # of one core
    rss_mib: float
    bytes_per_page_s: float


def server_cost(url: str, proc: psutil.Process, pages: int, seconds: float) -> Cost:
    """The API process's CPU and memory over `seconds` with `pages` live streams open."""
    received = [0] * pages
    stop = threading.Event()

    def page(index: int) -> None:
        with (
            httpx.Client(base_url=url, timeout=None) as http,
            http.stream("GET", "/events/stream") as stream,
        ):
            for chunk in stream.iter_bytes():
                received[index] += len(chunk)
                if stop.is_set():
                    return

    threads = [threading.Thread(target=page, args=(i,), daemon=True) for i in range(pages)]
    for thread in threads:
        thread.start()
    time.sleep(3)  # connected and past the first tick
    before, began, start_bytes = proc.cpu_times(), time.monotonic(), sum(received)
    time.sleep(seconds)
    after, elapsed = proc.cpu_times(), time.monotonic() - began
    got = sum(received) - start_bytes
    stop.set()
    used = (after.user + after.system) - (before.user + before.system)
    rss = proc.memory_info().rss / 2**20
    return Cost(pages, 100 * used / elapsed, rss, got / elapsed / pages if pages else 0.0)


@dataclass(frozen=True, kw_only=True)
class ApiBenchOptions:
    seconds: float = 10.0  # per measurement
    rate: float = 5000.0  # events/s of the pipeline while the dashboard is measured
    pages: int = 20


def run_api_bench(target: Target, options: ApiBenchOptions, out: Out = say) -> None:
    """Both measurements, on a topic, subject and store of their own; lines go to `out`."""
    with (
        bench_stack(
            target.settings, own_broker=target.own_broker, own_registry=target.own_registry
        ) as settings,
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
    ):
        folder = Path(tmp)
        topic = f"bench-api-{time.time_ns() % 10**8}"
        lane = settings.reading(topic).with_(db_path=folder / "audit.db")
        with registry_client.connected(lane) as client:
            subject = registry_client.value_subject(topic)
            registry_client.register(client, subject, load_schema_file(ORDER_EVENT_V2))
        ensure_topics(lane, {topic: lane.partitions})
        for line in _orders(lane, folder, options.seconds):
            out(line)
        for line in _dashboard(lane, folder, options.seconds, options.rate, options.pages):
            out(line)


def _orders(lane: Settings, folder: Path, seconds: float) -> list[str]:
    lines = ["POST /orders (acks=all, idempotent) vs the producer called directly:"]
    writer = OrderWriter(lane)
    writer.start()
    try:
        with api_process(lane, folder) as (url, _):
            over_http(url, 4, 2)  # warm-up: connections, the schema lookup
            direct(writer, 4, 2)
            for clients in CONCURRENCY:
                lines.append(over_http(url, clients, seconds).line("  over HTTP"))
                lines.append(direct(writer, clients, seconds).line("  producer called directly"))
    finally:
        writer.close()
    return lines


def _dashboard(lane: Settings, folder: Path, seconds: float, rate: float, pages: int) -> list[str]:
    lines = [f"The API process while the pipeline runs at {rate:,.0f} events/s:"]
    storage = _python(lane, "consume", "storage", "--topic", lane.topic, "--json")
    storage += ["--db", str(lane.db_path)]
    produce = _python(
        lane, "produce", "--topic", lane.topic, "--count", str(int(rate * (seconds * 2 + 60)))
    )
    produce += ["--rate", str(rate), "--schema", str(ORDER_EVENT_V2)]
    with ExitStack() as stack:
        stack.enter_context(process(storage, folder / "storage.log"))
        stack.enter_context(process(produce, folder / "produce.log"))
        url, proc = stack.enter_context(api_process(lane, folder))
        time.sleep(5)
        for count in (0, pages):
            cost = server_cost(url, proc, count, seconds)
            lines.append(
                f"  {count:>2} pages open: CPU {cost.cpu_percent:5.1f} % of a core, "
                f"RSS {cost.rss_mib:5.0f} MiB"
                + (f", {cost.bytes_per_page_s:,.0f} bytes/s per page" if count else "")
                + f"; {_observed(url, lane)}"
            )
    return lines


def _observed(url: str, lane: Settings) -> str:
    """What the dashboard itself showed at the end: the topic's rate, the storage lag."""
    tick = httpx.get(f"{url}/live", timeout=10).json()
    rate = (tick["topics"].get(lane.topic) or {}).get("rate") or 0.0
    storage = [g for name, g in tick["groups"].items() if name.startswith("storage")]
    lag = storage[0]["lag"] if storage else 0
    return f"observed {rate:,.0f} events/s in, storage lag {lag:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.benchmark.api", description=__doc__)
    add_target_arguments(parser)
    parser.add_argument("--seconds", type=float, default=10.0, help="Per measurement [10].")
    parser.add_argument("--rate", type=float, default=5000.0, help="Pipeline events/s [5000].")
    parser.add_argument("--pages", type=int, default=20, help="Dashboard pages open [20].")
    args = parser.parse_args(argv)
    options = ApiBenchOptions(seconds=args.seconds, rate=args.rate, pages=args.pages)
    return run_main(lambda: run_api_bench(target_of(args), options))


if __name__ == "__main__":
    sys.exit(main())
