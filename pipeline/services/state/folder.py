"""The state folder of one service instance: its own, locked, with a lasting identity.

Instances of a service group on one machine each claim a folder `<root>/<group>/<topic>/
instance-N` (the first N whose lock is free); the claim is an exclusive `flock` on a file in
it, held until `release()` or until the process dies, so two instances never share one.
The folder's `instance.id`, made once, names the instance across restarts: the
transactional producer's id derives from it, so an instance restarted on the same folder
fences its own predecessor and aborts the transaction the predecessor left open.
"""

from __future__ import annotations

import fcntl
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError

MAX_INSTANCES = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class StateFolderError(PipelineError):
    pass


@dataclass
class StateFolder:
    path: Path
    instance_id: str
    _lock: int | None

    @classmethod
    def claim(cls, root: Path, group: str, topic: str) -> StateFolder:
        """Lock the first free instance folder for (group, topic) under `root`."""
        base = root / _safe(group) / _safe(topic)
        try:
            for slot in range(MAX_INSTANCES):
                folder = base / f"instance-{slot}"
                folder.mkdir(parents=True, exist_ok=True)
                lock = _try_lock(folder / ".lock")
                if lock is not None:
                    return cls(folder, _instance_id(folder), lock)
        except OSError as exc:
            raise StateFolderError(f"cannot use the state folder {base}: {exc}") from exc
        raise StateFolderError(f"all {MAX_INSTANCES} state folders under {base} are in use")

    def partition_file(self, topic: str, partition: int) -> Path:
        return self.path / f"{_safe(topic)}-{partition}.sqlite"

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None


def _try_lock(path: Path) -> int | None:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _instance_id(folder: Path) -> str:
    path = folder / "instance.id"
    if path.exists():
        existing = path.read_text().strip()
        if existing:
            return existing
    made = uuid.uuid4().hex[:16]
    temporary = path.with_suffix(".tmp")
    temporary.write_text(made + "\n")
    temporary.replace(path)
    return made


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name) or "_"
