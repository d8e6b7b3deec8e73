"""Background processes with pid files: start detached, recognise, stop gracefully.

A pid file alone is not trusted: the process must still be alive and carry the stack's
marker on its command line, otherwise the pid file is stale (the process died or the pid
was reused) and is removed.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from pipeline.errors import DevStackError


@dataclass(frozen=True)
class Running:
    pid: int
    started_at: float
    rss_bytes: int


def marker(home: Path) -> str:
    """A command-line token that names this stack's processes (and no one else's).

    The JVM takes it as `-D<marker>`, Python as `-X <marker>`; both ignore it otherwise.
    """
    return f"orderpipeline.devstack={home.resolve()}"


def find_running(pid_file: Path, mark: str, remove_stale: bool = True) -> Running | None:
    """The live process behind `pid_file`, or None (removing the file if it is stale and
    `remove_stale`: a mere look, such as finding the stack's addresses, keeps it so that
    `dev status` can still say the part died)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or not carries_marker(proc.cmdline(), mark):
            raise psutil.NoSuchProcess(pid)
        return Running(pid=pid, started_at=proc.create_time(), rss_bytes=proc.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        if remove_stale:
            pid_file.unlink(missing_ok=True)
        return None


def carries_marker(cmdline: list[str], mark: str) -> bool:
    """The marker as a whole argument (`-D` prefixed for a JVM): a stack in `/a/stack` is not
    the one in `/a/stack2`."""
    return any(arg in (mark, f"-D{mark}") for arg in cmdline)


def start_detached(command: list[str], log_file: Path, pid_file: Path) -> subprocess.Popen[bytes]:
    """Start `command` in its own session (Ctrl-C in this terminal does not reach it)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def stop_process(pid: int, timeout_s: float, stop_signal: int = signal.SIGTERM) -> bool:
    """`stop_signal`, wait, then SIGKILL. Returns True if it stopped gracefully."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(stop_signal)
        proc.wait(timeout=timeout_s)
        return True
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
            proc.wait(timeout=10)
        return False


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail with the port's name, and its holder where it can be found, if it is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise DevStackError(f"cannot use port {port} for {what}: {exc.strerror}") from exc
            raise DevStackError(
                f"port {port} ({what}) is already in use{port_holder(port)}; "
                "stop that process or choose another port"
            ) from exc


def port_holder(port: int) -> str:
    try:
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return ""
                name = psutil.Process(conn.pid).name()
                return f" by {name} (pid {conn.pid})"
    except (psutil.Error, OSError):
        pass
    return ""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll `check()` until it is true or the time is up (a bounded loop)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return False
