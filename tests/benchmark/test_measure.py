"""The comparison's measurements: our side's producer closes the registry client it opens."""

from __future__ import annotations

from pipeline.benchmark import measure
from pipeline.benchmark.stack import Target, workspace
from pipeline.config import Settings
from tests.benchmark.conftest import OpenedClients


def test_our_side_of_the_comparison_closes_its_registry_client(
    settings: Settings, opened_clients: OpenedClients
) -> None:
    with workspace(Target(settings, own_broker=False, own_registry=False)) as ws:
        produced = measure.produce(measure.OURS, ws.lane("ours"), 100, None, seed=1)
    assert produced.delivered == 100
    assert opened_clients.clients and opened_clients.left_open() == 0
