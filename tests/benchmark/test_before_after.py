"""The before/after benchmark: the release before really is what its probes run, and one
small run on the session's broker gives every figure, checked (no figure is judged here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.benchmark.before_after import (
    RELEASE_BEFORE,
    BeforeAfterOptions,
    run_before_after,
    table,
)
from pipeline.benchmark.stack import BenchError, Target
from pipeline.benchmark.trees import release_before, run_probe, this_tree
from pipeline.config import Settings


def test_a_probe_of_the_release_before_imports_that_release_not_this_tree(
    tmp_path: Path,
) -> None:
    before = release_before(RELEASE_BEFORE, tmp_path)
    assert before.commit == RELEASE_BEFORE
    found = run_probe(before, "tree", {}, timeout_s=60)
    assert Path(found["producer"]).resolve() == (before.path / "pipeline" / "producer.py")
    after = this_tree()
    found = run_probe(after, "tree", {}, timeout_s=60)
    assert Path(found["producer"]).resolve() == after.path / "pipeline" / "producer.py"


def test_a_commit_the_clone_does_not_have_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no commit 0000000"):
        release_before("0" * 40, tmp_path)


def test_one_small_run_gives_every_figure_for_both_trees(settings: Settings) -> None:
    options = BeforeAfterOptions(
        repeats=1,
        producer_events=300,
        storage_events=300,
        e2e_events=300,
        rate=500.0,
        latency_s=1.0,
        memory_events=500,
        stage_events=300,
    )
    lines: list[str] = []
    target = Target(settings, own_broker=False, own_registry=False)
    result = run_before_after(target, options, out=lines.append)
    figures = result["figures"]
    for name in ("producer", "producer_cpu", "storage", "storage_cpu", "e2e", "p99"):
        assert figures[name]["before"] > 0 and figures[name]["after"] > 0
        assert figures[name]["ratio"] > 0
    assert figures["raw"]["after"] > 0
    assert result["memory"]["after"]["peak_mb"] > 0
    assert result["trees"]["before"]["commit"] == RELEASE_BEFORE
    printed = "\n".join(table(result))
    assert "raw client limit" in printed and "targets:" in printed and "load:" in printed
    for side in ("before", "after"):
        stages = result["stages"][side]
        assert all(stages[f"{name}_us"] > 0 for name in ("generate", "encode", "decode", "store"))
    assert result["stages"]["before"]["batch"] == 500  # the release before's default
    assert "CPU per event" in printed and "consume, commit, runner" in printed
