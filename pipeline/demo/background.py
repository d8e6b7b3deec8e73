"""The services running side by side for the demo: analytics and storage in threads, the
order processor in a process of its own (the story kills it and starts it again)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.config import Settings
from pipeline.demo.processor_process import ProcessorProcess
from pipeline.errors import PipelineError
from pipeline.services.analytics import Analytics
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from pipeline.services.summary import RunSummary


class ServicesInBackground:
    """Order processor, analytics and storage, each its own consumer group."""

    def __init__(self, settings: Settings, processor_log: Path) -> None:
        self.processor = ProcessorProcess(settings, processor_log)
        self.analytics = Analytics(settings)
        self.storage = StorageService(settings)
        options = RunOptions(handle_signals=False)  # the demo's main thread owns Ctrl-C
        self.runners = [
            Runner(settings, service, options) for service in (self.analytics, self.storage)
        ]
        self._threads: list[threading.Thread] = []
        self.final_processor: dict[str, Any] = {}
        self._processor_from = 0
        self._errors: list[BaseException] = []

    def __enter__(self) -> ServicesInBackground:
        self._processor_from = self.processor.committed()  # what earlier runs did
        self.processor.start()
        for runner in self.runners:
            thread = threading.Thread(target=self._run, args=(runner,), name=runner.service.name)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.final_processor = self.processor.stop()
        for runner in self.runners:
            runner.stop()  # each finishes and commits its batch in hand
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, runner: Runner) -> None:
        try:
            runner.run()
        except BaseException as exc:  # reported to the main thread by wait_for
            self._errors.append(exc)

    @property
    def summaries(self) -> list[RunSummary]:
        return [runner.summary for runner in self.runners]

    def wait_for(self, consumed: int, timeout_s: float = 120.0) -> None:
        """Until every service has read `consumed` messages this run (a bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while min(s.consumed for s in self.summaries) < consumed or (
            self.processor.committed() - self._processor_from < consumed
        ):
            if not self.processor.alive():
                raise PipelineError(f"the order processor stopped; see {self.processor.log}")
            if self._errors:
                raise PipelineError(f"a service stopped: {self._errors[0]}") from self._errors[0]
            if time.monotonic() > deadline:
                behind = {s.service: s.consumed for s in self.summaries}
                raise PipelineError(f"services did not catch up within {timeout_s:.0f} s: {behind}")
            time.sleep(0.2)
