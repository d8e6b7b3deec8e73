"""Start a command that dies with the process that started it (test sessions' servers).

`python -m pipeline.devstack.tether PARENT_PID SIGNAL [--user NAME] -- COMMAND...` becomes
COMMAND (exec, same pid) after asking Linux to send SIGNAL when its parent dies
(prctl PR_SET_PDEATHSIG). A test run killed with SIGKILL so leaves no broker or database
behind. With `--user`, it first switches to that user (root starting PostgreSQL, which
refuses to run as root); the death signal is set after the switch, which would clear it.

Linux sends the signal when the *thread* that started the process ends: start tethered
processes from a thread that lives as long as they should (a test session's main thread).
Elsewhere (macOS) the command runs untethered: prctl is Linux's.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import sys

_PR_SET_PDEATHSIG = 1


def wrap(command: list[str], stop_signal: int, user: str | None = None) -> list[str]:
    """`command` run through this module, tied to the calling process."""
    tether = [sys.executable, "-m", "pipeline.devstack.tether", str(os.getpid()), str(stop_signal)]
    if user:
        tether += ["--user", user]
    return [*tether, "--", *command]


def become(user: str) -> None:
    """Switch groups and user for good (needs root)."""
    entry = pwd.getpwnam(user)
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)


def die_with_parent(stop_signal: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, stop_signal, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def main(argv: list[str]) -> None:
    parent, stop_signal = int(argv[0]), int(argv[1])
    rest = argv[2:]
    user = None
    if rest[:1] == ["--user"]:
        user, rest = rest[1], rest[2:]
    command = rest[1:] if rest[:1] == ["--"] else rest
    if user:
        become(user)
    die_with_parent(stop_signal)
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(f"tether: parent {parent} is gone; not starting {command[0]}")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
