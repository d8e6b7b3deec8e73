"""`api serve` as a user starts it: its flags reach the API (the topic's own stats topic,
the store named by --store)."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from pipeline.devstack.processes import free_port
from tests.api.conftest import eventually


def test_serve_reads_the_topics_stats_topic_and_the_store_it_is_given(
    kafka_bootstrap: str, registry_url: str
) -> None:
    port, nobody = free_port(), free_port()
    command = [sys.executable, "-m", "pipeline", "--bootstrap-servers", kafka_bootstrap]
    command += ["--registry-url", registry_url, "api", "serve", "--port", str(port)]
    command += ["--topic", "shop-orders", "--store", f"postgresql://reader@127.0.0.1:{nobody}/x"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> httpx.Response | None:
            try:
                return httpx.get(f"{url}/ready", timeout=5)
            except httpx.TransportError:
                return None

        ready = eventually(
            lambda: (
                (r := answers()) is not None
                and r.json()["parts"]["store"]["reason"] != "not checked yet"
                and r.json()
            ),
            what="the API answers",
        )
        store = ready["parts"]["store"]
        assert store["up"] is False
        assert store["address"] == f"127.0.0.1:{nobody}/x"
        assert f"cannot connect to PostgreSQL at 127.0.0.1:{nobody}/x" in store["reason"]
        assert (
            httpx.get(f"{url}/analytics/totals", timeout=5).json()["topic"] == "shop-orders.stats"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert "API stopped after" in output, output
