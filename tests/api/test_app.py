"""The application's own pieces that need no server: the per-order locks, the description."""

from __future__ import annotations

import asyncio

from pipeline.api.app import KeyedLocks, create_app
from pipeline.config import Settings


def test_moves_of_one_order_wait_for_each_other_and_locks_do_not_pile_up() -> None:
    async def scenario() -> tuple[list[str], int]:
        locks = KeyedLocks()
        trace: list[str] = []

        async def move(order: str, name: str) -> None:
            async with locks.hold(order):
                trace.append(f"{name} in")
                await asyncio.sleep(0.01)
                trace.append(f"{name} out")

        await asyncio.gather(move("o-1", "a"), move("o-1", "b"), move("o-1", "c"), move("o-2", "d"))
        return trace, len(locks)

    trace, left = asyncio.run(scenario())
    mine = [t for t in trace if t[0] in "abc"]
    assert mine == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert trace.index("d in") < trace.index("a out")  # another order is not held up
    assert left == 0


def test_building_the_app_does_no_io_and_describes_every_route() -> None:
    app = create_app(Settings(bootstrap_servers="127.0.0.1:1", registry_url="http://127.0.0.1:1"))
    paths = app.openapi()["paths"]
    for path in (
        "/orders",
        "/orders/{order_id}/status",
        "/alerts",
        "/dead-letters",
        "/groups",
        "/schemas/matrix",
        "/schemas/check",
        "/metrics",
        "/ready",
        "/events/stream",
    ):
        assert path in paths, path
