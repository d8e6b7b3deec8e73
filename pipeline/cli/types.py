"""Option types that refuse, as a usage error, numbers no run could use.

click's `IntRange(0)` takes 10**20 (`itertools.islice` then raises) and `FloatRange`
takes `nan` and `inf` (every comparison with nan is false): these types bound both.
"""

from __future__ import annotations

import math
from typing import Any

import click

MAX_COUNT = 10**12  # events, messages, rows: far beyond a laptop run, far below overflow
MAX_VERSION = 2**31 - 1  # Confluent's versions and ids are Java ints


def count(minimum: int = 0, maximum: int = MAX_COUNT) -> click.IntRange:
    return click.IntRange(minimum, maximum)


class Number(click.FloatRange):
    """A finite float in a range (no nan, no inf)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def number(minimum: float = 0, maximum: float = 1e9, *, min_open: bool = False) -> Number:
    return Number(minimum, maximum, min_open=min_open)
