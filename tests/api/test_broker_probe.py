"""The API's broker probe takes every bootstrap form the Kafka client takes."""

from __future__ import annotations

import pytest

from pipeline.api.sampler import Sampler
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.errors import PipelineError


def probe(settings: Settings) -> str:
    sampler = Sampler(settings, ApiSettings(port=0))
    sampler.start()
    try:
        return sampler._probe_broker()
    finally:
        sampler.stop()


@pytest.mark.parametrize("form", ["PLAINTEXT://{}", "{}, "], ids=["listener prefix", "list"])
def test_a_broker_named_as_the_client_takes_it_is_up(
    settings: Settings, kafka_bootstrap: str, form: str
) -> None:
    # Before: the prefixed address was read as a host named "PLAINTEXT://127.0.0.1": the
    # dashboard showed a working broker down for good.
    assert probe(settings.with_(bootstrap_servers=form.format(kafka_bootstrap))) == ""


def test_a_stopped_broker_is_down_naming_its_address(settings: Settings) -> None:
    with pytest.raises(PipelineError, match=r"127\.0\.0\.1:9 \(connection refused\)"):
        probe(settings.with_(bootstrap_servers="127.0.0.1:9"))
