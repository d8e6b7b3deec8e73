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

from pipeline.services.analytics import Analytics
from pipeline.services.base import Service
from pipeline.services.stateful import StatefulService
from pipeline.services.stats import Picture
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
            self.console.print(render(self.service.picture(), self.service.rate()))

    def snapshot(self, summary: RunSummary) -> dict[str, Any]:
        data: dict[str, Any] = {"run": summary.to_dict()}
        if isinstance(self.service, StatefulService):
            data["state"] = state_of(self.service)
        if isinstance(self.service, Analytics):
            data["analytics"] = self.service.picture().to_dict()
            data["analytics"]["events_per_s"] = round(self.service.rate(), 1)
        else:
            data["detail"] = detail(self.service)
        return data

    def renderable(self, summary: RunSummary) -> RenderableType:
        letters = sum(summary.dead_lettered.values())
        status = Text(
            f"{summary.service} (group {summary.group_id}, partitions {summary.partitions}): "
            f"{summary.consumed} read, {letters} dead-lettered, {summary.rate:,.0f} msg/s"
        )
        lines = [status]
        if isinstance(self.service, StatefulService):
            lines.append(Text(state_line(self.service, summary)))
        if isinstance(self.service, Analytics):
            return Group(render(self.service.picture(), self.service.rate()), *lines)
        return Group(*lines, Text(detail(self.service)))


def state_of(service: StatefulService) -> dict[str, Any]:
    """Partitions held, and how far each one's restore went."""
    return {
        "partitions": service.partitions,
        "restores": {
            str(p.partition): {
                "source": p.source,
                "records": p.records,
                "done": round(p.fraction(), 3),
                "seconds": round(p.seconds, 2),
                "held": p.partition in service.partitions,
            }
            for p in service.restores.values()
        },
    }


def state_line(service: StatefulService, summary: RunSummary) -> str:
    held = set(service.partitions)
    restoring = [p for p in service.restores.values() if not p.done and p.partition in held]
    restore = (
        "restoring " + ", ".join(f"[{p.partition}] {p.fraction():.0%}" for p in restoring)
        if restoring
        else "state restored"
    )
    last = (
        time.strftime("%H:%M:%S", time.localtime(summary.last_commit_at))
        if summary.last_commit_at
        else "none yet"
    )
    return (
        f"{summary.guarantee}: holds partitions {service.partitions}, {restore}; "
        f"{summary.transactions} committed (last {last}), {summary.aborted_transactions} aborted"
    )


def detail(service: Service) -> str:
    """The service's own one-line summary, when it has one."""
    line = getattr(service, "summary_line", None)
    return str(line()) if callable(line) else ""


def render(picture: Picture, events_per_s: float | None = None, max_windows: int = 3) -> Table:
    """Windows (newest last) and totals, one column each, as `consume` and `stats` show."""
    windows = picture.windows[-max_windows:]
    title = f"order events: {picture.totals.events} in partitions {picture.partitions}"
    table = Table(title=title, show_header=True, expand=False)
    table.add_column("measure")
    for window in windows:
        start = time.strftime("%H:%M:%S", time.gmtime(window.start_ms / 1000))
        table.add_column(start, justify="right")
    table.add_column("totals", justify="right")
    columns = [w.counts for w in windows] + [picture.totals]
    statuses = sorted({s for c in columns for s in c.by_status})
    sources = sorted({s for c in columns for s in c.by_source})
    rows: list[tuple[str, list[str]]] = [("events", [str(c.events) for c in columns])]
    rows += [(f"status {s}", [str(c.by_status.get(s, 0)) for c in columns]) for s in statuses]
    rows += [(f"source {s}", [str(c.by_source.get(s, 0)) for c in columns]) for s in sources]
    for name in ("placed", "delivered", "cancelled", "late"):
        rows.append((name, [str(getattr(c, name)) for c in columns]))
    for source in sources:
        for figure in ("p50_ms", "p95_ms"):
            rows.append(
                (
                    f"fulfilment {source} {figure[:3]}",
                    [_seconds(c.percentiles().get(source, {}).get(figure)) for c in columns],
                )
            )
    for name, values in rows:
        table.add_row(name, *values)
    if events_per_s is not None:
        table.add_row("events/s (event time)", *([""] * len(windows)), f"{events_per_s:,.1f}")
    return table


def _seconds(value: int | None) -> str:
    return "" if value is None else f"{value / 1000:.1f} s"
