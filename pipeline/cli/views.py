"""What `consume` shows while a service runs: a live terminal view, or JSON snapshots.

The runner calls `tick()` after every poll; the view redraws at most every `interval_s`.
Analytics shows its table; the other services a status line (their `summary_line()`).
Off a terminal (piped output) the live view is skipped: only the final summary prints.
"""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pipeline.services.analytics import Analytics, Snapshot
from pipeline.services.base import Service
from pipeline.services.summary import RunSummary


class ConsumeView:
    def __init__(self, service: Service, *, as_json: bool, interval_s: float = 1.0) -> None:
        self.service = service
        self.as_json = as_json
        self.interval_s = interval_s
        self.console = Console()
        self._live: Live | None = None
        self._last = 0.0

    def __enter__(self) -> ConsumeView:
        if not self.as_json and self.console.is_terminal:
            # Transient: when the run ends, `final()` prints what stays on screen.
            self._live = Live(console=self.console, auto_refresh=False, transient=True)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)
            self._live = None

    def tick(self, summary: RunSummary) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        self._last = now
        if self.as_json:
            print(json.dumps(self.snapshot(summary)), flush=True)
        elif self._live is not None:
            self._live.update(self.renderable(summary), refresh=True)

    def final(self, summary: RunSummary) -> None:
        """Print the last snapshot (JSON), or analytics' last table; call after the block."""
        if self.as_json:
            print(json.dumps(self.snapshot(summary)), flush=True)
        elif isinstance(self.service, Analytics):
            self.console.print(render(self.service.aggregator.snapshot()))

    def snapshot(self, summary: RunSummary) -> dict[str, Any]:
        data: dict[str, Any] = {"run": summary.to_dict()}
        if isinstance(self.service, Analytics):
            data["analytics"] = self.service.aggregator.snapshot().to_dict()
        else:
            data["detail"] = detail(self.service)
        return data

    def renderable(self, summary: RunSummary) -> RenderableType:
        letters = sum(summary.dead_lettered.values())
        status = Text(
            f"{summary.service} (group {summary.group_id}, partitions {summary.partitions}): "
            f"{summary.consumed} read, {letters} dead-lettered, {summary.rate:,.0f} msg/s"
        )
        if isinstance(self.service, Analytics):
            return Group(render(self.service.aggregator.snapshot()), status)
        return Group(status, Text(detail(self.service)))


def detail(service: Service) -> str:
    """The service's own one-line summary, when it has one."""
    line = getattr(service, "summary_line", None)
    return str(line()) if callable(line) else ""


def render(snapshot: Snapshot) -> Table:
    """A terminal table of one analytics snapshot."""
    table = Table(title=f"order events: {snapshot.total}", show_header=True, expand=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for status, count in snapshot.by_status.items():
        table.add_row(f"status {status}", str(count))
    for source, count in snapshot.by_source.items():
        table.add_row(f"source {source}", str(count))
    table.add_row(f"events/s (last {snapshot.window_s:.0f} s)", f"{snapshot.events_per_s:,.1f}")
    table.add_row("orders in flight", str(snapshot.in_flight))
    table.add_row("orders delivered", str(snapshot.delivered))
    return table
