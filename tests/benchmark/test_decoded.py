"""Events made without Kafka for the store benchmark (pure)."""

from __future__ import annotations

from pipeline.benchmark.decoded import decoded_batches


def test_decoded_batches_are_shaped_as_the_decoder_hands_them_over() -> None:
    batches = list(decoded_batches(1_100, 500))
    assert [len(batch) for batch in batches] == [500, 500, 100]
    first = batches[0][0]
    assert first.value["timestamp"].tzinfo is not None
    assert first.schema.subject == "order-events-value"
    assert [e.offset for e in batches[1][:2]] == [500, 501]
