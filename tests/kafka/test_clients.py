"""librdkafka's log through the project's logger, repeats summed up (a real client against a
port nothing listens on: no broker needed)."""

from __future__ import annotations

import logging
import time

import pytest

from pipeline.kafka import clients
from tests.cli.test_stack_down import closed_port


def test_a_refusing_broker_logs_one_fail_line_not_one_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=clients.LIBRDKAFKA_LOGGER)
    consumer = clients.consumer(
        {
            "bootstrap.servers": f"127.0.0.1:{closed_port()}",
            "group.id": "log-test",
            "reconnect.backoff.ms": 10,
            "reconnect.backoff.max.ms": 50,
        }
    )
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # bounded: 3 s of reconnects, dozens of FAILs
            consumer.poll(0.2)
    finally:
        consumer.close()
    fails = [r for r in caplog.records if "FAIL" in r.getMessage()]
    assert 1 <= len(fails) <= 2  # the first, maybe one more shape (ipv4/ipv6), not dozens
    assert fails[0].getMessage().startswith("librdkafka: FAIL [rdkafka#consumer-")
    assert fails[0].levelno == logging.ERROR


def test_repeats_are_counted_and_reported_when_the_window_ends() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("tests.throttled")
    logger.propagate = False
    logger.addHandler(Collect())
    logger.setLevel(logging.DEBUG)
    log = clients.ThrottledLog(logger, window_s=0.2)
    for attempt in range(5):
        log.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#1", f"refused (after {attempt}ms)")
    log.log(logging.WARNING, "%s [%s] %s", "OTHER", "rdkafka#1", "another line")
    time.sleep(0.25)
    log.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#1", "refused (after 9ms)")
    assert records == [
        "librdkafka: FAIL [rdkafka#1] refused (after 0ms)",
        "librdkafka: OTHER [rdkafka#1] another line",
        "librdkafka: FAIL [rdkafka#1] refused (after 9ms) (and 4 more like it in the last 0.2 s)",
    ]


def test_the_unconfigured_librdkafka_logger_stays_off_the_terminal() -> None:
    clients.producer({"bootstrap.servers": "127.0.0.1:1"}).flush(0)
    handlers = logging.getLogger(clients.LIBRDKAFKA_LOGGER).handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
