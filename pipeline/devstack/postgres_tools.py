"""The machine's own PostgreSQL server programs, and the user they run as.

PostgreSQL refuses to run as root: started by root, its programs run as the `postgres`
system user (`runuser -u postgres --`), which must own the data folder and be able to
reach it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import DevStackError, MissingToolError

SERVER_USER = "postgres"
NEEDED = ("initdb", "pg_ctl", "postgres", "pg_isready", "psql")
INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) not found: install them "
    "(Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: `brew install postgresql@17`) "
    "or put their folder on PATH"
)
# Where packages put them when they are not on PATH (Debian keeps one folder per version).
KNOWN_FOLDERS = (
    "/usr/lib/postgresql/*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/Applications/Postgres.app/Contents/Versions/latest/bin",
)


@dataclass(frozen=True)
class ServerTools:
    bindir: Path
    user: str | None  # the system user to run as, or None for the current one

    def program(self, name: str) -> str:
        return str(self.bindir / name)

    def as_server_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", self.user, "--", *command] if self.user else command


def find_tools(known_folders: tuple[str, ...] = KNOWN_FOLDERS) -> ServerTools:
    """The folder holding initdb, pg_ctl and friends (`pg_config --bindir`, then PATH, then
    where packages put them), and who runs them."""
    bindir = next((d for d in _candidate_folders(known_folders) if _has_all(d)), None)
    if bindir is None:
        raise MissingToolError(INSTALL_HINT)
    return ServerTools(bindir, _server_user())


def _candidate_folders(known_folders: tuple[str, ...]) -> list[Path]:
    folders = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
        folders.append(Path(out.stdout.strip()))
    on_path = shutil.which("pg_ctl")
    if on_path:
        folders.append(Path(on_path).resolve().parent)
    for pattern in known_folders:
        # Newest version first: "17" before "15" (numeric, not text, order).
        found = Path("/").glob(pattern.lstrip("/"))
        folders += sorted(found, key=lambda p: _version_key(p), reverse=True)
    return folders


def _version_key(folder: Path) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in str(folder)).split()
    return tuple(int(d) for d in digits)


def _has_all(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in NEEDED)


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise MissingToolError(
            f"PostgreSQL refuses to run as root and there is no `{SERVER_USER}` system user: "
            "install the postgresql package (it creates one) or run as a normal user"
        ) from None
    return SERVER_USER


def give_to_server_user(tools: ServerTools, *paths: Path) -> None:
    """Make `paths` the server user's (root only; otherwise they are ours already)."""
    if tools.user is None:
        return
    entry = pwd.getpwnam(tools.user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def ensure_reachable(tools: ServerTools, folder: Path) -> None:
    """The server user must be able to enter every folder above its data folder."""
    if tools.user is None:
        return
    entry = pwd.getpwnam(tools.user)
    groups = set(os.getgrouplist(tools.user, entry.pw_gid))
    # Folders still to be made are made by us, open to others (the usual umask).
    for parent in (p for p in folder.resolve().parents if p.exists()):
        if not can_enter(parent.stat(), entry.pw_uid, groups):
            raise DevStackError(
                f"PostgreSQL runs as the `{tools.user}` user (it refuses root) and cannot enter "
                f"{parent}: choose a --home outside it (e.g. under /srv or /tmp)"
            )


def can_enter(info: os.stat_result, uid: int, gids: set[int]) -> bool:
    """Whether a user may traverse a folder, from its owner, group and mode bits."""
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in gids:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)
