"""`bench registry`: the registry in a process of its own, or the one named; every figure
there and positive (timings are not asserted), nothing left behind, and a registry that
cannot start said in one line."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import pytest

from pipeline import registry_client
from pipeline.benchmark.registry import (
    RegistryBenchOptions,
    client_rate,
    record,
    run_registry_bench,
    summary_lines,
)
from pipeline.benchmark.registry_process import registry_process
from pipeline.benchmark.stack import BenchError, Target
from pipeline.config import Settings
from tests.benchmark.conftest import OpenedClients
from tests.benchmark.helpers import subjects, topic_names, topics_gone

SMALL = RegistryBenchOptions(registrations=4, seconds=0.2, repeats=1)
FIGURES = {
    "register_new_p50_ms",
    "register_new_p99_ms",
    "register_evolve_p50_ms",
    "register_evolve_p99_ms",
    "lookup_raw_per_s",
    "baseline_root_per_s",
    "lookup_client_nocache_per_s",
    "lookup_fresh_client_per_s",
}


def test_a_registry_process_of_its_own_is_measured_stopped_and_its_topic_deleted(
    settings: Settings, opened_clients: OpenedClients
) -> None:
    before = topic_names(settings)
    results = run_registry_bench(Target(settings, own_broker=False, own_registry=True), SMALL)
    assert set(results) == FIGURES
    assert all(value > 0 for value in results.values()), sorted(results.items())
    assert summary_lines(results)[-1].startswith("target (>= 3000 lookups/s")
    assert topics_gone(settings, topic_names(settings) - before)
    assert opened_clients.left_open() == 0


def test_the_registry_named_is_measured_and_keeps_none_of_the_subjects_made(
    settings: Settings,
) -> None:
    before = subjects(settings)
    results = run_registry_bench(Target(settings, own_broker=False, own_registry=False), SMALL)
    assert all(results[name] > 0 for name in FIGURES)
    assert subjects(settings) == before


def test_a_registry_process_that_cannot_start_is_one_line(settings: Settings) -> None:
    refused = settings.with_(client_properties=MappingProxyType({"no.such.property": "1"}))
    with pytest.raises(BenchError) as caught, registry_process(refused):
        pass
    message = str(caught.value)
    assert message.startswith("the registry process did not start: ")
    assert "no.such.property" in message and "\n" not in message


def test_the_client_lookup_rate_leaves_out_the_clients_start_up(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    # Shorter than building a client takes: with the start-up on the clock, no lookup fits.
    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(unique("bench-lookup"))
        schema_id = registry_client.register(client, subject, record("Probe")).schema_id
        assert schema_id is not None
        try:
            assert client_rate(settings, schema_id, seconds=0.001) > 0
        finally:
            registry_client.delete_subject(client, subject, permanent=True)
