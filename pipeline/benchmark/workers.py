"""The parent's handle on a worker process: start it, wait for it, sample its memory.

The worker's stdout carries `READY` and `RESULT <json>`; its stderr goes to a log file
whose end is quoted if it fails. Its resident memory is sampled every `interval_s` from
here (psutil), so the figure is the process's own, not ours. Leaving the `with` block
stops a worker that is still running (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from types import TracebackType
from typing import IO, Any

import psutil

from pipeline.benchmark.stack import BenchError, Lane
from pipeline.benchmark.worker import settings_config

MiB = 2**20
STOP_TIMEOUT_S = 15.0


def worker_config(
    lane: Lane, side: str, expect: int, latency: bool, warmup: int = 0
) -> dict[str, Any]:
    return {
        "side": side,
        **settings_config(lane.settings),
        "group": lane.group,
        "schema_str": lane.schema_str,
        "expect": expect,
        "latency": latency,
        "warmup": warmup,  # events left out of the latency figures
        "idle_timeout_s": 60.0,  # a stalled run ends instead of hanging
    }


class WorkerProcess:
    """`command` and `env`: another program than the worker (the before/after probes)."""

    def __init__(
        self,
        config: dict[str, Any],
        interval_s: float = 0.5,
        *,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._config = config
        self._interval_s = interval_s
        self._command = command or [
            sys.executable,
            "-m",
            "pipeline.benchmark.worker",
            json.dumps(config),
        ]
        self._env = env
        self._lines: queue.Queue[str] = queue.Queue()
        self._done = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._threads: list[threading.Thread] = []
        self.samples: list[tuple[float, float]] = []  # (seconds since start, RSS MiB)
        self.ready_after_s = 0.0  # when READY came, on the samples' clock
        self._began = time.monotonic()

    def __enter__(self) -> WorkerProcess:
        self._log = tempfile.TemporaryFile("w+")
        self._began = time.monotonic()
        self._proc = subprocess.Popen(
            self._command, stdout=subprocess.PIPE, stderr=self._log, text=True, env=self._env
        )
        for target in (self._read, self._sample):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        self._expect("READY", timeout_s)
        self.ready_after_s = time.monotonic() - self._began

    def since_ready(self) -> float:
        """Seconds since the worker said READY."""
        return time.monotonic() - self._began - self.ready_after_s

    def samples_since_ready(self) -> list[tuple[float, float]]:
        """The memory samples taken once the worker was ready, timed from then."""
        start = self.ready_after_s
        return [(round(t - start, 2), mb) for t, mb in self.samples if t >= start]

    def first_line(self, prefix: str, timeout_s: float) -> str:
        """The first line starting with `prefix`, without it."""
        return self._expect(prefix, timeout_s).removeprefix(prefix)

    def result(self, timeout_s: float) -> dict[str, Any]:
        line = self._expect("RESULT ", timeout_s)
        result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
        return result

    def _expect(self, prefix: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line
        raise BenchError(
            f"the {self._config['side']} worker gave no {prefix.strip()}: {self._tail()}"
        )

    def _tail(self) -> str:
        code = self._proc.poll() if self._proc is not None else None
        text = ""
        if self._log is not None:
            self._log.seek(0)
            text = self._log.read()[-1500:].strip()
        status = "still running" if code is None else f"exit code {code}"
        return f"{status}; its log ends: {text or '(empty)'}"

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\n"))

    def _sample(self) -> None:
        assert self._proc is not None
        try:
            process = psutil.Process(self._proc.pid)
            while not self._done.is_set() and self._proc.poll() is None:
                rss = process.memory_info().rss / MiB
                self.samples.append((round(time.monotonic() - self._began, 2), round(rss, 1)))
                self._done.wait(self._interval_s)
        except psutil.Error:  # the worker ended between two samples
            return
