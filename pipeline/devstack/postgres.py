"""PostgreSQL for the audit store, from the machine's own server programs (no Docker).

`initdb` once into the stack's folder, then `pg_ctl` starts it on loopback (TCP only: no
Unix socket, whose path length and folder rights differ per machine); its data survive
`down`/`up`. Authentication is `trust` on 127.0.0.1, as the compose service does: a
laptop stack, not a server to expose.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from pipeline.devstack import processes, tether
from pipeline.devstack.kafka import log_tail
from pipeline.devstack.layout import DevStackSettings
from pipeline.devstack.postgres_tools import (
    ServerTools,
    ensure_reachable,
    find_tools,
    give_to_server_user,
)
from pipeline.errors import DevStackError

PART = "postgres"
DATABASE = "orders"
WRITER = "pipeline"
READER = "pipeline_reader"
SUPERUSER = "postgres"
STOP_SIGNAL = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave
INIT_SQL = Path(__file__).resolve().parent / "postgres_init.sql"
# Our settings live in a file of their own, included by postgresql.conf: it also marks the
# data folder as this stack's (`dev reset` wipes nothing else).
CONF_NAME = "order_pipeline.conf"


def url(settings: DevStackSettings, user: str = WRITER) -> str:
    return f"postgresql://{user}@{settings.host}:{settings.postgres_port}/{DATABASE}"


def read_only_url(writer_url: str) -> str:
    """The same database as the read-only role (for queries)."""
    return writer_url.replace(f"//{WRITER}@", f"//{READER}@", 1)


def marker(settings: DevStackSettings) -> str:
    """The postmaster's `-D` argument: names this stack's server exactly."""
    return str(settings.postgres_data.resolve())


def holds_our_data(data: Path) -> bool:
    return (data / "PG_VERSION").is_file() and (data / CONF_NAME).is_file()


def start(settings: DevStackSettings) -> bool:
    """Start the server unless it runs; create database and roles; True if started now."""
    tools = find_tools()
    if processes.find_running(settings.pid_file(PART), marker(settings)):
        _wait_ready(settings, tools, None)
        return False
    processes.ensure_port_free(settings.host, settings.postgres_port, "PostgreSQL")
    prepare(settings, tools)
    if settings.tethered:
        _start_tethered(settings, tools)
    else:
        _start_with_pg_ctl(settings, tools)
    create_database_and_roles(settings, tools)
    return True


def prepare(settings: DevStackSettings, tools: ServerTools) -> None:
    """The data folder (initdb once), our settings file and the log, all the server user's."""
    data, log = settings.postgres_data, settings.log_file(PART)
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    log.touch()
    give_to_server_user(tools, data, log)
    ensure_reachable(tools, data)
    if not (data / "PG_VERSION").exists():
        _initdb(settings, tools)
    conf = data / CONF_NAME
    conf.write_text(
        f"listen_addresses = '{settings.host}'\n"
        f"port = {settings.postgres_port}\n"
        "unix_socket_directories = ''\n"
    )
    give_to_server_user(tools, conf)


def _initdb(settings: DevStackSettings, tools: ServerTools) -> None:
    command = [tools.program("initdb"), "-D", marker(settings), "-U", SUPERUSER]
    command += ["--auth=trust", "--encoding=UTF8", "--no-locale"]
    if settings.tethered:
        command.append("--no-sync")  # a test's throwaway data need no flush to disk
    _run(tools.as_server_user(command), "initdb")
    with open(settings.postgres_data / "postgresql.conf", "a") as conf:
        conf.write(f"\n# order-pipeline's local stack\ninclude = '{CONF_NAME}'\n")


def _start_with_pg_ctl(settings: DevStackSettings, tools: ServerTools) -> None:
    log = settings.log_file(PART)
    command = [tools.program("pg_ctl"), "start", "-D", marker(settings), "-l", str(log.resolve())]
    command += ["-w", "-t", str(int(settings.start_timeout_s)), "-s"]
    result = subprocess.run(
        tools.as_server_user(command),
        capture_output=True,
        text=True,
        timeout=settings.start_timeout_s + 30,
    )
    if result.returncode != 0:
        raise DevStackError(f"PostgreSQL did not start; last lines of {log}:\n{log_tail(log)}")
    pid = (settings.postgres_data / "postmaster.pid").read_text().split("\n", 1)[0]
    settings.pid_file(PART).write_text(f"{pid.strip()}\n")


def _start_tethered(settings: DevStackSettings, tools: ServerTools) -> None:
    """The postmaster itself, tied to this process (pg_ctl would detach it)."""
    command = [tools.program("postgres"), "-D", marker(settings)]
    command = tether.wrap(command, STOP_SIGNAL, tools.user)
    proc = processes.start_detached(command, settings.log_file(PART), settings.pid_file(PART))
    _wait_ready(settings, tools, proc)


def _wait_ready(
    settings: DevStackSettings, tools: ServerTools, proc: subprocess.Popen[bytes] | None
) -> None:
    def done() -> bool:
        return answers(settings, tools) or (proc is not None and proc.poll() is not None)

    if processes.wait_until(done, settings.start_timeout_s) and answers(settings, tools):
        return
    if proc is not None and proc.poll() is None:
        processes.stop_process(proc.pid, settings.stop_timeout_s, STOP_SIGNAL)
    log = settings.log_file(PART)
    raise DevStackError(f"PostgreSQL did not answer; last lines of {log}:\n{log_tail(log)}")


def answers(settings: DevStackSettings, tools: ServerTools | None = None) -> bool:
    tools = tools or find_tools()
    command = [tools.program("pg_isready"), "-q", "-h", settings.host]
    command += ["-p", str(settings.postgres_port), "-t", "2"]
    return subprocess.run(command, capture_output=True, timeout=30).returncode == 0


def create_database_and_roles(settings: DevStackSettings, tools: ServerTools) -> None:
    command = [tools.program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", settings.host]
    command += ["-p", str(settings.postgres_port), "-U", SUPERUSER, "-d", "postgres"]
    _run([*command, "-f", str(INIT_SQL)], "creating the database and roles")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise DevStackError(f"PostgreSQL: {what} failed:\n{tail}")
