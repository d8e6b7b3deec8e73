"""Which consumer group a service joins: named after what it reads and writes.

A consumer group holds offsets, so two runs in one group share one position in the topic:
`consume storage --db OTHER` in the group `storage` would move the default store's
offsets, and those events would never reach it. On the defaults (`order-events`, and for
storage `data/audit.db`) a service keeps its own name as its group, as always; otherwise
the group names the input topic and, for storage, the store file (its stem and a digest
of its full path, so that two `audit.db` in two folders differ).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config import Settings
from pipeline.errors import ConfigError

_DEFAULTS = Settings()
STORE_WRITERS = frozenset({"storage"})  # the services whose output is the store file


def group_for(service: str, settings: Settings) -> str:
    """The group `service` joins when none is named."""
    if _is_default(service, settings):
        return service
    parts = [service, settings.topic]
    if service in STORE_WRITERS and not _same_file(settings.db_path, _DEFAULTS.db_path):
        parts.append(store_tag(settings.db_path))
    return ".".join(parts)


def chosen_group(service: str, settings: Settings, named: str | None) -> str:
    """The group named by the user, or the derived one; refuses to share the default
    pipeline's group with a run that reads or writes something else."""
    derived = group_for(service, settings)
    if named is None:
        return derived
    if named == service and derived != service:
        raise ConfigError(
            f"group {named!r} is the default pipeline's ({_DEFAULTS.topic}"
            + (f" into {_DEFAULTS.db_path}" if service in STORE_WRITERS else "")
            + f"); this run would move its offsets: leave --group out to use {derived!r}, "
            "or name another group"
        )
    return named


def store_tag(path: Path) -> str:
    resolved = str(Path(path).resolve())
    return f"{Path(path).stem}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def _is_default(service: str, settings: Settings) -> bool:
    if settings.topic != _DEFAULTS.topic:
        return False
    return service not in STORE_WRITERS or _same_file(settings.db_path, _DEFAULTS.db_path)


def _same_file(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()
