"""The collector paused for a block and put back as it was (pure)."""

from __future__ import annotations

import gc

import pytest

from pipeline.services.collector import collector_paused


def test_paused_in_the_block_and_enabled_after_even_when_the_block_fails() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_a_collector_the_process_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
