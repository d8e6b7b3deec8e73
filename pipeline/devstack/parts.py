"""The stack's parts one by one: start (unless running), recognise, answer, stop.

A part is recognised by its pid file *and* a marker on its command line: the stack's
folder for the broker and the registry, the data folder for PostgreSQL.
"""

from __future__ import annotations

import signal
import sys
import urllib.error
import urllib.request
from typing import Any

from pipeline.devstack import kafka, postgres, processes, tether
from pipeline.devstack.jars import java_executable, kafka_classpath
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import DevStackError

REGISTRY = "registry"
API = "api"
PARTS = (kafka.PART, REGISTRY, API, postgres.PART)
_STOP_SIGNALS = {postgres.PART: postgres.STOP_SIGNAL}


def tools(settings: DevStackSettings) -> tuple[str, str]:
    """The `java` to run and the broker's classpath (Java checked first, then Maven)."""
    java = java_executable()
    settings.home.mkdir(parents=True, exist_ok=True)
    return java, kafka_classpath(settings)


def marker(settings: DevStackSettings, part: str) -> str:
    return postgres.marker(settings) if part == postgres.PART else processes.marker(settings.home)


def running(
    settings: DevStackSettings, part: str, remove_stale: bool = True
) -> processes.Running | None:
    return processes.find_running(settings.pid_file(part), marker(settings, part), remove_stale)


def start_kafka(settings: DevStackSettings) -> bool:
    """Start the broker unless it already runs; return only once it answers metadata."""
    pid_file, log_file = settings.pid_file(kafka.PART), settings.log_file(kafka.PART)
    if running(settings, kafka.PART):
        _await(settings, kafka.PART, lambda: kafka.answers_metadata(settings.bootstrap), None)
        return False
    java, classpath = tools(settings)  # before the ports: a missing Java is said first
    processes.ensure_port_free(settings.host, settings.kafka_port, "Kafka broker")
    processes.ensure_port_free(settings.host, settings.controller_port, "Kafka controller")
    command = kafka.prepare(settings, java, classpath)
    if settings.tethered:
        command = tether.wrap(command, signal.SIGTERM)
    proc = processes.start_detached(command, log_file, pid_file)
    _await(settings, kafka.PART, lambda: kafka.answers_metadata(settings.bootstrap), proc)
    return True


def start_registry(settings: DevStackSettings) -> bool:
    """Start the schema registry (after Kafka) unless it runs; return once it answers HTTP."""
    pid_file, log_file = settings.pid_file(REGISTRY), settings.log_file(REGISTRY)
    if running(settings, REGISTRY):
        _await(settings, REGISTRY, lambda: registry_answers(settings.registry_url), None)
        return False
    processes.ensure_port_free(settings.host, settings.registry_port, "schema registry")
    command = [sys.executable, "-X", processes.marker(settings.home), "-m", "pipeline.registry"]
    command += ["--bootstrap-servers", settings.bootstrap]
    command += ["--host", settings.host, "--port", str(settings.registry_port)]
    if settings.tethered:
        command = tether.wrap(command, signal.SIGTERM)
    proc = processes.start_detached(command, log_file, pid_file)
    _await(settings, REGISTRY, lambda: registry_answers(settings.registry_url), proc)
    return True


def start_api(settings: DevStackSettings) -> bool:
    """Start the HTTP API and dashboard (after the registry) unless it runs; return once it
    answers. It reads the audit store of the folder `dev up` runs in (data/audit.db)."""
    pid_file, log_file = settings.pid_file(API), settings.log_file(API)
    if running(settings, API):
        _await(settings, API, lambda: api_answers(settings.api_url), None)
        return False
    processes.ensure_port_free(settings.host, settings.api_port, "API")
    command = [sys.executable, "-X", processes.marker(settings.home), "-m", "pipeline"]
    command += ["--bootstrap-servers", settings.bootstrap, "--registry-url", settings.registry_url]
    command += ["api", "serve", "--host", settings.host, "--port", str(settings.api_port)]
    if settings.tethered:
        command = tether.wrap(command, signal.SIGTERM)
    proc = processes.start_detached(command, log_file, pid_file)
    _await(settings, API, lambda: api_answers(settings.api_url), proc)
    return True


def api_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


STARTERS = {
    kafka.PART: start_kafka,
    REGISTRY: start_registry,
    API: start_api,
    postgres.PART: postgres.start,
}


def _await(settings: DevStackSettings, part: str, ready: Any, proc: Any) -> None:
    """Wait for `ready()`; on death or timeout stop what was started and show the log."""
    if processes.wait_until(lambda: ready() or _died(proc), settings.start_timeout_s):
        if not _died(proc):
            return
        what = "exited during start"
    else:
        what = f"did not answer within {settings.start_timeout_s:.0f} s"
    stop(settings, part)
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


def answers(settings: DevStackSettings, part: str) -> bool:
    if part == kafka.PART:
        return kafka.answers_metadata(settings.bootstrap)
    if part == REGISTRY:
        return registry_answers(settings.registry_url)
    if part == API:
        return api_answers(settings.api_url)
    return postgres.answers(settings)


def address(settings: DevStackSettings, part: str) -> str:
    addresses = {
        kafka.PART: settings.bootstrap,
        REGISTRY: settings.registry_url,
        API: f"{settings.api_url}/",
    }
    return addresses.get(part) or postgres.url(settings)


def stop(settings: DevStackSettings, part: str) -> str:
    """Stop one part gracefully (then by force); one line saying what was done."""
    pid_file = settings.pid_file(part)
    found = running(settings, part)
    if found is None:
        return f"{part}: not running"
    stop_signal = _STOP_SIGNALS.get(part, signal.SIGTERM)
    graceful = processes.stop_process(found.pid, settings.stop_timeout_s, stop_signal)
    pid_file.unlink(missing_ok=True)
    how = "stopped" if graceful else f"killed (no exit within {settings.stop_timeout_s:.0f} s)"
    return f"{part}: {how} (pid {found.pid})"
