"""The health of the parts the API depends on, each probed on a thread of its own.

A probe of a part that hangs waits out its timeout. Probed in turn with the others, or
after the sampler's offset queries (which wait out theirs when the broker goes away in the
middle), that wait hid a part going down for seconds more: /ready and the dashboard still
said "up" while orders were already failing. Here each part keeps its own pace, and the
health is read when it is needed, never from a sample taken before the change.

The broker is first asked the cheapest question: does anything accept a TCP connection at
its bootstrap addresses? A stopped broker is known at once (connection refused), where a
metadata request would spend its whole timeout reconnecting. A broker that accepts
connections but does not answer (hung, overloaded) is caught by the metadata request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PipelineError

PROBE_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class PartHealth:
    name: str
    up: bool
    address: str
    reason: str = ""
    checked_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"up": self.up, "address": self.address, "reason": self.reason}


# A probe returns "" when its part is up, or a note (up, but it said something: a 401);
# it raises PipelineError, saying why, when the part is down.
Probe = Callable[[], str]


class HealthWatch:
    """Probes each part every `interval_s` on a thread of its own; `current()` is the latest
    answer of each. `changed` is called (on a probe's thread) when a part goes up or down."""

    def __init__(
        self,
        probes: dict[str, tuple[str, Probe]],  # name → (address, probe)
        interval_s: float,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.probes = probes
        self.interval_s = interval_s
        self._changed = changed
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._parts = {
            name: PartHealth(name, False, address, "not checked yet")
            for name, (address, _) in probes.items()
        }

    def current(self) -> dict[str, PartHealth]:
        with self._lock:
            return dict(self._parts)

    def start(self) -> None:
        for name in self.probes:
            thread = threading.Thread(target=self._run, args=(name,), name=f"api-health-{name}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PROBE_TIMEOUT_S * 2)

    def check(self, name: str) -> PartHealth:
        """Probe `name` now (also called by the loop); its new state is kept and returned."""
        address, probe = self.probes[name]
        try:
            found = PartHealth(name, True, address, probe(), time.time())
        except PipelineError as exc:
            found = PartHealth(name, False, address, str(exc), time.time())
        except Exception as exc:  # a probe that dies unexplained must still say so
            found = PartHealth(name, False, address, f"{type(exc).__name__}: {exc}", time.time())
        with self._lock:
            flipped = self._parts[name].up != found.up
            self._parts[name] = found
        if flipped:
            self._changed()
        return found

    def _run(self, name: str) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.check(name)
            self._stop.wait(max(0.05, self.interval_s - (time.monotonic() - began)))
