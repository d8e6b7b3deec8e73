"""A broker of the registry tests' own, for the tests that stop or kill it (the session's
broker is shared by every other test and is never disturbed)."""

from __future__ import annotations

from tests.killable_broker import broker_of_module, own_broker

__all__ = ["broker_of_module", "own_broker"]  # fixtures, for every registry test
