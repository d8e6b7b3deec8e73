"""Reads answered on the event loop never wait there for the state's lock."""

from __future__ import annotations

import json
import threading
import time

import httpx

from pipeline.registry.embedded import embedded_registry
from tests.registry.helpers import register

SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


def test_a_write_holding_the_state_does_not_stop_other_answers(kafka_bootstrap: str) -> None:
    with embedded_registry(kafka_bootstrap, delete_topic=True) as server:
        schema_id = register(server.url, "loop-value", SCHEMA)["id"]
        lock = server._state.lock  # what a registration holds while it checks compatibility
        answers: list[int] = []
        lock.acquire()
        try:
            waiting = threading.Thread(
                target=lambda: answers.append(
                    httpx.get(f"{server.url}/schemas/ids/{schema_id}", timeout=30).status_code
                )
            )
            waiting.start()
            time.sleep(0.5)  # the read has reached the server and waits for the state
            # Before: that read waited for the lock on the event loop, so nothing else was
            # answered, not even a path that needs no state.
            other = httpx.get(f"{server.url}/no-such-path", timeout=5)
            assert other.status_code == 404
        finally:
            lock.release()
        waiting.join(timeout=30)
        assert answers == [200]
