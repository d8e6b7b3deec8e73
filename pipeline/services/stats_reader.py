"""Reading outputs back read committed; analytics' closed windows, every partition's, merged.

Read committed, so a window is seen once its transaction committed and never twice; each
input partition's windows come from whichever instance held it, so the merged picture is
complete however many instances ran.
"""

from __future__ import annotations

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka.committed import ReadError, read_topic
from pipeline.serde import AvroDecoder, DecodeError
from pipeline.services.stats import Picture, merge, window_of
from pipeline.services.windows import ClosedWindow

READ_TIMEOUT_S = 30.0


class StatsError(PipelineError):
    pass


def read_committed(
    settings: Settings, topic: str, timeout_s: float = READ_TIMEOUT_S
) -> list[bytes]:
    """Every committed value of `topic`, to each partition's stable end as of now (none if
    it does not exist), read on position (`kafka.committed`), never on a count."""
    try:
        return [m.value() or b"" for m in read_topic(settings, topic, timeout_s=timeout_s)]
    except ReadError as exc:
        raise StatsError(str(exc)) from exc


def read_windows(settings: Settings) -> list[ClosedWindow]:
    """Every closed window on the stats topic."""
    topic = settings.stats_topic
    values = read_committed(settings, topic)
    if not values:
        return []
    with registry_client.connected(settings) as client:
        decoder = AvroDecoder(client, registry_client.value_subject(topic))
        try:
            return [window_of(decoder.decode(value)[1]) for value in values]
        except DecodeError as exc:
            raise StatsError(f"{topic} holds a record that is not order_stats: {exc}") from exc


def read_picture(settings: Settings) -> Picture:
    return merge(read_windows(settings))
