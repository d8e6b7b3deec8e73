"""What machine a benchmark ran on, and how busy it was (the machine is shared: a figure
means little without the load it was measured under)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from types import TracebackType
from typing import Any

import confluent_kafka
import psutil

MiB = 2**20


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
    }


def snapshot() -> dict[str, float]:
    """The load averages now (1, 5, 15 minutes)."""
    one, five, fifteen = os.getloadavg()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2)}


class Meter:
    """How busy all cores were while the block ran (every process's CPU, ours included),
    and the 1-minute load average at its end."""

    def __init__(self) -> None:
        self.busy_percent = 0.0
        self.load_1m = 0.0
        self._start: Any = None

    def __enter__(self) -> Meter:
        self._start = psutil.cpu_times()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        end = psutil.cpu_times()
        total = sum(end) - sum(self._start)
        idle = (end.idle + getattr(end, "iowait", 0.0)) - (
            self._start.idle + getattr(self._start, "iowait", 0.0)
        )
        self.busy_percent = round(100.0 * (1 - idle / total), 1) if total > 0 else 0.0
        self.load_1m = round(os.getloadavg()[0], 2)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
