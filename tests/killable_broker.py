"""A broker of a test module's own, for the tests that stop or kill it (the session's broker
is shared by every other test and is never disturbed).

Import the fixtures into the conftest or the test module that wants them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import psutil
import pytest

from pipeline.devstack import kafka, stack
from pipeline.devstack import testing as devstack_testing  # its test_* would be collected
from pipeline.devstack.layout import DevStackSettings


@pytest.fixture(scope="module")
def broker_of_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStackSettings]:
    """A broker on free ports in tmp, for this module; always stopped at the end."""
    settings = devstack_testing.test_stack_settings(tmp_path_factory.mktemp("own-broker"))
    try:
        stack.start_kafka(settings)
        yield settings
    finally:
        stack.down(settings)


@pytest.fixture
def own_broker(broker_of_module: DevStackSettings) -> DevStackSettings:
    """The module's broker, running (started again if a test before left it down)."""
    stack.start_kafka(broker_of_module)
    return broker_of_module


def kill_broker(settings: DevStackSettings) -> None:
    """SIGKILL, as a crash or a power cut would: no controlled shutdown."""
    pid = int(settings.pid_file(kafka.PART).read_text())
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=10)
