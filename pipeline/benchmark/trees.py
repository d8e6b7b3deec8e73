"""The two trees a before/after run compares, and starting a probe in one of them.

The release before is `git archive` of its commit, unpacked into a temporary folder (a
snapshot: the repository's own worktrees and index are never touched); this tree is the
folder this package was imported from, uncommitted changes included. A probe is
`probe.py` run with `PYTHONPATH` set to one tree and `-P`, and it names the tree it
imported before it measures anything: a probe that imported another fails the run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.benchmark.stack import BenchError
from pipeline.benchmark.workers import WorkerProcess

PROBE = Path(__file__).resolve().with_name("probe.py")
STAGE_PROBE = PROBE.with_name("stage_probe.py")  # CPU per event of the in-process stages
THIS_TREE = Path(__file__).resolve().parent.parent.parent
TREE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Tree:
    name: str  # "before" or "after"
    path: Path
    commit: str  # the commit, with "+ uncommitted changes" when the tree has some


def git(*args: str, tree: Path = THIS_TREE) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"git could not run in {tree}: {exc}") from exc


def release_before(commit: str, folder: Path) -> Tree:
    """`commit` of this repository, unpacked under `folder`."""
    found = git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    if found.returncode != 0:
        raise BenchError(
            f"no commit {commit} in {THIS_TREE} (a shallow clone? fetch the history first)"
        )
    full = found.stdout.decode().strip()
    archive = git("archive", "--format=tar", full)
    if archive.returncode != 0:
        raise BenchError(f"git archive {full[:12]} failed: {archive.stderr.decode().strip()}")
    target = folder / f"before-{full[:12]}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    if not (target / "pipeline" / "producer.py").is_file():
        raise BenchError(f"commit {full[:12]} has no pipeline/producer.py to measure")
    return Tree("before", target, full)


def this_tree() -> Tree:
    head = git("rev-parse", "HEAD")
    commit = head.stdout.decode().strip() if head.returncode == 0 else "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    if dirty.returncode == 0 and dirty.stdout.strip():
        commit += " + uncommitted changes"
    return Tree("after", THIS_TREE, commit)


def probe(
    tree: Tree, role: str, config: dict[str, Any], interval_s: float = 0.5, script: Path = PROBE
) -> WorkerProcess:
    """A probe of `role` in `tree` (enter it to start it; `checked()` before reading it)."""
    env = {**os.environ, "PYTHONPATH": str(tree.path)}
    command = [sys.executable, "-P", str(script), role, json.dumps(config)]
    label = {"side": f"{tree.name} {role}"}
    return WorkerProcess(label, interval_s, command=command, env=env)


def check_tree(worker: WorkerProcess, tree: Tree) -> None:
    """Fail unless the probe imported `pipeline` from `tree`."""
    imported = Path(worker.first_line("TREE ", TREE_TIMEOUT_S)).resolve()
    if imported != tree.path.resolve():
        raise BenchError(f"the {tree.name} probe imported {imported}, not {tree.path}")


def run_probe(
    tree: Tree, role: str, config: dict[str, Any], timeout_s: float, script: Path = PROBE
) -> dict[str, Any]:
    """Run a probe to its end and return its result."""
    with probe(tree, role, config, script=script) as worker:
        check_tree(worker, tree)
        return worker.result(timeout_s)
