"""A throwaway broker for test sessions: free ports, a temporary folder, stopped in `finally`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.devstack import stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.devstack.processes import free_port


def test_stack_settings(home: Path, **overrides: object) -> DevStackSettings:
    """Settings for a stack of its own in `home`, on ports no one else uses."""
    values: dict[str, object] = {
        "home": home,
        "kafka_port": free_port(),
        "controller_port": free_port(),
        "registry_port": free_port(),
        "heap": "512m",
        "with_registry": False,
    }
    values.update(overrides)
    return DevStackSettings(**values)  # type: ignore[arg-type]


@contextmanager
def running_test_broker(home: Path) -> Iterator[str]:
    """Start a broker in `home` and yield its bootstrap address; always stop it."""
    settings = test_stack_settings(home)
    try:
        stack.start_kafka(settings)
        yield settings.bootstrap
    finally:
        stack.down(settings)
