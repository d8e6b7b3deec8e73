"""`dev up / down / status / logs / reset`: the local Kafka broker, registry and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from pipeline.devstack import kafka, parts, postgres, processes
from pipeline.devstack.layout import DevStackSettings
from pipeline.devstack.parts import PARTS, REGISTRY, start_kafka
from pipeline.devstack.postgres_tools import ensure_reachable, find_tools
from pipeline.errors import DevStackError

__all__ = ["PARTS", "REGISTRY", "down", "logs", "reset", "start_kafka", "status", "up"]

WINDOWS_HINT = (
    "the local stack does not run on native Windows: use Docker Desktop's stack "
    "(`docker compose up -d`, then this CLI as usual) or run `python cli.py dev up` inside WSL"
)
# Never carried from one command to the next: a test session's own choice.
_NOT_REMEMBERED = {"home", "tethered"}


@dataclass(frozen=True)
class PartStatus:
    name: str
    state: str  # running | stopped | died | not answering
    address: str
    pid: int | None = None
    uptime_s: float | None = None
    rss_bytes: int | None = None


@dataclass(frozen=True)
class StackStatus:
    parts: tuple[PartStatus, ...]
    topics: tuple[str, ...]
    home: Path
    missing: tuple[str, ...] = ()  # wanted by the last `up`, not running while others are

    @property
    def healthy(self) -> bool:
        bad = any(part.state in ("died", "not answering") for part in self.parts)
        return not bad and not self.missing


@dataclass(frozen=True)
class UpResult:
    started: tuple[str, ...]
    already_running: tuple[str, ...]
    seconds: float


def remembered(settings: DevStackSettings) -> DevStackSettings:
    """The settings of the last `dev up` in this home (ports may differ from the defaults)."""
    try:
        saved = json.loads(settings.state_file.read_text())
    except (OSError, ValueError):
        return settings
    known = {f.name for f in fields(DevStackSettings)} - _NOT_REMEMBERED
    values = {k: v for k, v in saved.items() if k in known}
    if values.get("data_dir"):
        values["data_dir"] = Path(values["data_dir"])
    return replace(settings, **values)


def fetch(settings: DevStackSettings) -> list[str]:
    """Check the tools and resolve the broker's jars; return the classpath entries."""
    return parts.tools(settings)[1].split(os.pathsep)


def current_platform() -> str:
    return sys.platform


def up(settings: DevStackSettings) -> UpResult:
    """Start what is wanted and not running. Every tool and port is checked before anything
    starts, and if a part fails, the parts this call started are stopped again."""
    if current_platform() == "win32":
        raise DevStackError(WINDOWS_HINT)
    began = time.monotonic()
    settings.home.mkdir(parents=True, exist_ok=True)
    wanted = wanted_parts(settings)
    preflight(settings, [part for part in wanted if not parts.running(settings, part)])
    started: list[str] = []
    already: list[str] = []
    try:
        for part in wanted:
            (started if parts.STARTERS[part](settings) else already).append(part)
    except BaseException:  # Ctrl-C too: nothing half-started stays behind
        for part in reversed(started):
            parts.stop(settings, part)
        raise
    _remember(settings)
    return UpResult(tuple(started), tuple(already), time.monotonic() - began)


def wanted_parts(settings: DevStackSettings) -> list[str]:
    flags = {REGISTRY: settings.with_registry, postgres.PART: settings.with_postgres}
    return [part for part in PARTS if flags.get(part, True)]


def preflight(settings: DevStackSettings, to_start: list[str]) -> None:
    """Tools first (a missing Java or PostgreSQL is said first), then every port."""
    ports: list[tuple[int, str]] = []
    if kafka.PART in to_start:
        parts.tools(settings)
        ports += [(settings.kafka_port, "Kafka broker")]
        ports += [(settings.controller_port, "Kafka controller")]
    if REGISTRY in to_start:
        ports.append((settings.registry_port, "schema registry"))
    if postgres.PART in to_start:
        ensure_reachable(find_tools(), settings.postgres_data)
        ports.append((settings.postgres_port, "PostgreSQL"))
    seen: dict[int, str] = {}
    for port, what in ports:
        if port in seen:
            raise DevStackError(f"port {port} is given to both the {seen[port]} and {what}")
        seen[port] = what
        processes.ensure_port_free(settings.host, port, what)


def down(settings: DevStackSettings) -> list[str]:
    """Stop PostgreSQL, the registry, then the broker. Returns what was done (a part that
    was neither running nor wanted is not mentioned)."""
    wanted = wanted_parts(settings)
    done = [(part, parts.stop(settings, part)) for part in reversed(PARTS)]
    return [line for part, line in done if part in wanted or not line.endswith("not running")]


def status(settings: DevStackSettings) -> StackStatus:
    found = tuple(_part_status(settings, name) for name in PARTS)
    topics: tuple[str, ...] = ()
    if found[0].state == "running":
        topics = tuple(kafka.topic_names(settings.bootstrap))
    wanted = wanted_parts(settings)
    shown = tuple(p for p in found if p.name in wanted or p.state != "stopped")
    missing: tuple[str, ...] = ()
    if any(p.state != "stopped" for p in shown):
        missing = tuple(p.name for p in shown if p.name in wanted and p.state == "stopped")
    return StackStatus(shown, topics, settings.home, missing)


def _part_status(settings: DevStackSettings, name: str) -> PartStatus:
    had_pid_file = settings.pid_file(name).exists()
    running = parts.running(settings, name)
    address = parts.address(settings, name)
    if running is None:
        # A pid file without its process: it died without `dev down` (crash, kill -9, OOM).
        return PartStatus(name, "died" if had_pid_file else "stopped", address)
    state = "running" if parts.answers(settings, name) else "not answering"
    uptime = time.time() - running.started_at
    return PartStatus(name, state, address, running.pid, uptime, running.rss_bytes)


def running_addresses(settings: DevStackSettings) -> dict[str, str]:
    """The addresses of this home's parts whose processes are alive, by part name (a look
    only: pid files of dead parts stay for `dev status` to report)."""
    alive = [part for part in PARTS if parts.running(settings, part, remove_stale=False)]
    return {part: parts.address(settings, part) for part in alive}


def logs(settings: DevStackSettings, part: str, lines: int) -> str:
    if part not in PARTS:
        raise DevStackError(f"unknown part {part!r}: choose one of {', '.join(PARTS)}")
    return kafka.log_tail(settings.log_file(part), lines)


def reset(settings: DevStackSettings) -> list[str]:
    """Stop everything and wipe the stack's data: topics, `_schemas`, the PostgreSQL data.

    A folder that does not hold this stack's data is refused before anything stops.
    """
    kafka.ensure_wipeable(settings)
    pg_data = settings.postgres_data
    if pg_data.exists() and any(pg_data.iterdir()) and not postgres.holds_our_data(pg_data):
        raise DevStackError(f"refusing to wipe {pg_data}: it is not this stack's PostgreSQL data")
    done = down(settings)
    for data in (settings.kafka_data, pg_data):
        if data.exists():
            shutil.rmtree(data)
            done.append(f"data wiped: {data}")
    return done


def _remember(settings: DevStackSettings) -> None:
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    for key in _NOT_REMEMBERED - {"home"}:
        saved.pop(key, None)
    settings.state_file.write_text(json.dumps(saved, indent=2) + "\n")
