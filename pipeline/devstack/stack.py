"""`dev up / down / status / logs / reset`: the local Kafka broker and schema registry."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipeline.devstack import kafka, processes
from pipeline.devstack.jars import java_executable, kafka_classpath
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import DevStackError

REGISTRY = "registry"
PARTS = (kafka.PART, REGISTRY)


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
    known = {f.name for f in fields(DevStackSettings)} - {"home"}
    values = {k: v for k, v in saved.items() if k in known}
    if values.get("data_dir"):
        values["data_dir"] = Path(values["data_dir"])
    return replace(settings, **values)


def fetch(settings: DevStackSettings) -> list[str]:
    """Check the tools and resolve the broker's jars; return the classpath entries."""
    return _tools(settings)[1].split(os.pathsep)


def _tools(settings: DevStackSettings) -> tuple[str, str]:
    """The `java` to run and the broker's classpath (Java checked first, then Maven)."""
    java = java_executable()
    settings.home.mkdir(parents=True, exist_ok=True)
    return java, kafka_classpath(settings)


def up(settings: DevStackSettings) -> UpResult:
    began = time.monotonic()
    started: list[str] = []
    already: list[str] = []
    settings.home.mkdir(parents=True, exist_ok=True)
    (started if start_kafka(settings) else already).append(kafka.PART)
    if settings.with_registry:
        (started if start_registry(settings) else already).append(REGISTRY)
    _remember(settings)
    return UpResult(tuple(started), tuple(already), time.monotonic() - began)


def start_kafka(settings: DevStackSettings) -> bool:
    """Start the broker unless it already runs; return only once it answers metadata."""
    pid_file, log_file = settings.pid_file(kafka.PART), settings.log_file(kafka.PART)
    if processes.find_running(pid_file, processes.marker(settings.home)):
        _await(settings, kafka.PART, lambda: kafka.answers_metadata(settings.bootstrap), None)
        return False
    java, classpath = _tools(settings)  # before the ports: a missing Java is said first
    processes.ensure_port_free(settings.host, settings.kafka_port, "Kafka broker")
    processes.ensure_port_free(settings.host, settings.controller_port, "Kafka controller")
    command = kafka.prepare(settings, java, classpath)
    proc = processes.start_detached(command, log_file, pid_file)
    _await(settings, kafka.PART, lambda: kafka.answers_metadata(settings.bootstrap), proc)
    return True


def start_registry(settings: DevStackSettings) -> bool:
    """Start the schema registry (after Kafka) unless it runs; return once it answers HTTP."""
    pid_file, log_file = settings.pid_file(REGISTRY), settings.log_file(REGISTRY)
    if processes.find_running(pid_file, processes.marker(settings.home)):
        _await(settings, REGISTRY, lambda: registry_answers(settings.registry_url), None)
        return False
    processes.ensure_port_free(settings.host, settings.registry_port, "schema registry")
    command = [sys.executable, "-X", processes.marker(settings.home), "-m", "pipeline.registry"]
    command += ["--bootstrap-servers", settings.bootstrap]
    command += ["--host", settings.host, "--port", str(settings.registry_port)]
    proc = processes.start_detached(command, log_file, pid_file)
    _await(settings, REGISTRY, lambda: registry_answers(settings.registry_url), proc)
    return True


def _await(settings: DevStackSettings, part: str, ready: Any, proc: Any) -> None:
    """Wait for `ready()`; on death or timeout stop what was started and show the log."""
    if processes.wait_until(lambda: ready() or _died(proc), settings.start_timeout_s):
        if not _died(proc):
            return
        what = "exited during start"
    else:
        what = f"did not answer within {settings.start_timeout_s:.0f} s"
    _stop_part(settings, part)
    log = settings.log_file(part)
    raise DevStackError(f"{part} {what}; last lines of {log}:\n{kafka.log_tail(log)}")


def _died(proc: Any) -> bool:
    return proc is not None and proc.poll() is not None


def registry_answers(url: str) -> bool:
    """Ready: its Kafka reader caught up and its writer usable (GET /ready says 200).

    A registry without /ready (an older one, Confluent's) is judged by GET /subjects."""
    for path in ("/ready", "/subjects"):
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=3) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                return exc.code == 401  # up, but behind basic auth; 503: not ready
        except OSError:
            return False
    return False


def down(settings: DevStackSettings) -> list[str]:
    """Stop the registry, then the broker (controlled shutdown). Returns what was done."""
    return [_stop_part(settings, part) for part in reversed(PARTS)]


def _stop_part(settings: DevStackSettings, part: str) -> str:
    pid_file = settings.pid_file(part)
    running = processes.find_running(pid_file, processes.marker(settings.home))
    if running is None:
        return f"{part}: not running"
    graceful = processes.stop_process(running.pid, settings.stop_timeout_s)
    pid_file.unlink(missing_ok=True)
    how = "stopped" if graceful else f"killed (no exit within {settings.stop_timeout_s:.0f} s)"
    return f"{part}: {how} (pid {running.pid})"


def status(settings: DevStackSettings) -> StackStatus:
    checks = {
        kafka.PART: (settings.bootstrap, lambda: kafka.answers_metadata(settings.bootstrap)),
        REGISTRY: (settings.registry_url, lambda: registry_answers(settings.registry_url)),
    }
    parts = tuple(_part_status(settings, name, *checks[name]) for name in PARTS)
    topics: tuple[str, ...] = ()
    if parts[0].state == "running":
        topics = tuple(kafka.topic_names(settings.bootstrap))
    return StackStatus(parts, topics, settings.home)


def _part_status(settings: DevStackSettings, name: str, address: str, ready: Any) -> PartStatus:
    pid_file = settings.pid_file(name)
    had_pid_file = pid_file.exists()
    running = processes.find_running(pid_file, processes.marker(settings.home))
    if running is None:
        # A pid file without its process: it died without `dev down` (crash, kill -9, OOM).
        return PartStatus(name, "died" if had_pid_file else "stopped", address)
    state = "running" if ready() else "not answering"
    uptime = time.time() - running.started_at
    return PartStatus(name, state, address, running.pid, uptime, running.rss_bytes)


def logs(settings: DevStackSettings, part: str, lines: int) -> str:
    if part not in PARTS:
        raise DevStackError(f"unknown part {part!r}: choose one of {', '.join(PARTS)}")
    return kafka.log_tail(settings.log_file(part), lines)


def reset(settings: DevStackSettings) -> list[str]:
    """Stop everything and wipe the broker's data (topics, the registry's `_schemas`)."""
    done = down(settings)
    shutil.rmtree(settings.kafka_data, ignore_errors=True)
    done.append(f"data wiped: {settings.kafka_data}")
    return done


def _remember(settings: DevStackSettings) -> None:
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    settings.state_file.write_text(json.dumps(saved, indent=2) + "\n")
