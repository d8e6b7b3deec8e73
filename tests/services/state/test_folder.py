"""State folders: one per instance, locked, with a lasting identity (no server)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.services.state import folder as folders
from pipeline.services.state.folder import StateFolder, StateFolderError

HOLD = """
import sys, time
from pathlib import Path
from pipeline.services.state.folder import StateFolder
claimed = StateFolder.claim(Path(sys.argv[1]), "g", "t")
print(claimed.path.name, flush=True)
time.sleep(60)
"""


def test_two_instances_never_share_a_folder_and_a_released_one_is_taken_again(
    tmp_path: Path,
) -> None:
    first = StateFolder.claim(tmp_path, "analytics", "order-events")
    second = StateFolder.claim(tmp_path, "analytics", "order-events")
    assert first.path != second.path
    assert first.instance_id != second.instance_id
    identity = first.instance_id
    first.release()
    again = StateFolder.claim(tmp_path, "analytics", "order-events")
    assert again.path == first.path
    assert again.instance_id == identity  # the same instance across restarts
    assert again.partition_file("a/b", 3).name == "a_b-3.sqlite"
    again.release()
    second.release()


def test_a_folder_held_by_a_process_is_freed_when_the_process_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "instance-0"
        busy = StateFolder.claim(tmp_path, "g", "t")
        assert busy.path.name == "instance-1"
        busy.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    deadline = time.monotonic() + 10
    claimed = StateFolder.claim(tmp_path, "g", "t")
    while claimed.path.name != "instance-0" and time.monotonic() < deadline:
        claimed.release()
        time.sleep(0.05)
        claimed = StateFolder.claim(tmp_path, "g", "t")
    assert claimed.path.name == "instance-0"
    claimed.release()


def test_all_folders_in_use_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folders, "MAX_INSTANCES", 1)
    held = StateFolder.claim(tmp_path, "g", "t")
    with pytest.raises(StateFolderError, match="all 1 state folders"):
        StateFolder.claim(tmp_path, "g", "t")
    held.release()
