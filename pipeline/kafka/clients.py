"""Kafka clients built from settings; a configuration librdkafka refuses (a misspelt property
in `--client-properties`, say) becomes one `ConfigError` line instead of a traceback.

librdkafka's own log never goes raw to the terminal: every client built here hands it to
a project logger (`pipeline.kafka.librdkafka` unless the caller names one), and repeats
of one line (a broker that refuses connections, every 50 ms to 10 s) are summed up.
`require_reachable` says within seconds, naming the address, that nothing listens there.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from pipeline.config import Settings, unreachable_hint
from pipeline.errors import ConfigError, PipelineError

# librdkafka prefetches up to 64 MiB by default; on a backlog that is most of a service's
# memory. 2 MiB (~13,000 events, a quarter of a second of the storage service's work) keeps
# any service busy: the storage service's peak over 1,000,000 events fell 147 -> 128 MiB
# from 4 MiB at the same rate. But while a partition's queue is over those bounds
# librdkafka looks again only after `fetch.queue.backoff.ms` (1 s by default), and a service
# drains the prefetch in well under that: it then waited with a backlog on the broker (the
# storage service spent a fifth of a backlog run in empty polls). 10 ms keeps it fed.
PREFETCH = {
    "queued.max.messages.kbytes": 2048,
    "queued.min.messages": 5000,
    "fetch.queue.backoff.ms": 10,
}


def consumer_config(settings: Settings, group_id: str, **extra: Any) -> dict[str, Any]:
    """The pipeline's consumers: no auto-commit (offsets follow durable work), from the
    earliest offset, read committed (what an aborted or open transaction wrote is never
    seen), a bounded prefetch that the user's client properties may tune."""
    own = settings.kafka_config(
        **{
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            **extra,
        }
    )
    return {**PREFETCH, **own}


def consumer(config: Mapping[str, Any]) -> Consumer:
    return _build(Consumer, config)


def producer(config: Mapping[str, Any]) -> Producer:
    return _build(Producer, config)


def admin(config: Mapping[str, Any]) -> AdminClient:
    return _build(AdminClient, config)


def _build(kind: Any, config: Mapping[str, Any]) -> Any:
    given = dict(config)
    logger = given.get("logger") or logging.getLogger(LIBRDKAFKA_LOGGER)
    if isinstance(logger, logging.Logger):
        _keep_off_last_resort(logger)
        given["logger"] = ThrottledLog(logger)
    try:
        return kind(given)
    except KafkaException as exc:
        raise ConfigError(f"Kafka client configuration refused: {exc.args[0].str()}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Kafka client configuration refused: {exc}") from exc


def close_producer(producer: Producer, timeout_s: float) -> int:
    """Flush within `timeout_s`, drop what is left, close; returns how many were dropped."""
    left = producer.flush(timeout_s)
    if left:
        producer.purge()
        producer.flush(1.0)
    producer.close()
    return int(left)


def silent_logger() -> logging.Logger:
    """A logger that drops librdkafka's lines (for probes that expect refusals)."""
    logger = logging.getLogger("pipeline.kafka.silent")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


LIBRDKAFKA_LOGGER = "pipeline.kafka.librdkafka"
# The same librdkafka line again within this window is counted, not logged.
REPEAT_WINDOW_S = 60.0
_VARYING = re.compile(r"\d+(\.\d+)?")


class KafkaUnreachable(PipelineError):
    """Nothing answers at any of the bootstrap addresses."""


class ThrottledLog:
    """What confluent-kafka calls as its `logger`: forwards to a `logging.Logger`, with each
    distinct line logged once per `REPEAT_WINDOW_S` and then how often it came again.

    A broker that is down makes librdkafka repeat one FAIL line for every reconnect; the
    registry's log took 1,600 of them in one outage."""

    def __init__(self, logger: logging.Logger, window_s: float = REPEAT_WINDOW_S) -> None:
        self.logger = logger
        self.window_s = window_s
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}  # line shape -> (first logged, repeats)

    def log(self, level: int, msg: str, *args: Any) -> None:
        text = msg % args if args else msg
        shape = _VARYING.sub("#", text)
        now = time.monotonic()
        with self._lock:
            first, repeats = self._seen.get(shape, (-self.window_s, 0))
            if now - first < self.window_s:
                self._seen[shape] = (first, repeats + 1)
                return
            if len(self._seen) > 1000:  # bounded: forget old shapes
                self._seen.clear()
            self._seen[shape] = (now, 0)
        again = f" (and {repeats} more like it in the last {self.window_s:g} s)" if repeats else ""
        self.logger.log(level, "librdkafka: %s%s", text, again)


def _keep_off_last_resort(logger: logging.Logger) -> None:
    """A logger nobody configured would print its warnings raw on stderr (logging's last
    resort); a NullHandler keeps librdkafka's lines off the terminal unless `-v` asks."""
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def require_reachable(settings: Settings, timeout_s: float = 3.0) -> None:
    """Fail fast, naming the address and what to run, when no bootstrap server accepts a
    connection: librdkafka itself would retry silently until its own timeouts (10-20 s)."""
    bootstrap = settings.bootstrap_servers
    reasons = []
    for host, port in bootstrap_addresses(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError as exc:
            reasons.append(_socket_reason(exc))
    reason = ", ".join(dict.fromkeys(reasons)) or "no address given"
    hint = unreachable_hint(bootstrap, "--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS")
    raise KafkaUnreachable(f"Kafka is not reachable at {bootstrap} ({reason}): {hint}")


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """("host", port) pairs of a bootstrap list; a listener prefix (SASL_SSL://) is dropped."""
    pairs = []
    for part in bootstrap.split(","):
        address = part.strip().split("://", 1)[-1]
        host, sep, port = address.rpartition(":")
        if sep and port.isdigit():
            pairs.append((host.strip("[]") or "localhost", int(port)))
        elif address:
            pairs.append((address, 9092))
    return pairs


def _socket_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer"
    return (exc.strerror or str(exc)).lower()
