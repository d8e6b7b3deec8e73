"""The project's registry in a process of its own, for the registry benchmark.

`python -m pipeline.registry` on a free port (the kernel picks it: `--port 0`, and the
registry names its URL on its first line) and a fresh schemas topic, without basic auth.
A process of its own keeps the registry off the benchmark's GIL, as `dev up` runs it. It
is stopped (SIGTERM, then SIGKILL) and its topic deleted when the block ends.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from pipeline.benchmark.stack import BenchError
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka.admin import delete_topics
from pipeline.registry.embedded import fresh_topic

START_TIMEOUT_S = 60.0  # the registry gives up on an unreachable broker after 30 s
STOP_TIMEOUT_S = 20.0
LISTENING = re.compile(r"listening on (http://\S+)")


@contextmanager
def registry_process(settings: Settings, source: Path | None = None) -> Iterator[str]:
    """A registry process on `settings`' broker; yields its URL. `source`: run the registry
    of that source tree (another version's checkout) instead of the installed one."""
    topic = fresh_topic("_schemas-bench")
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as folder:
        command = [sys.executable, "-m", "pipeline.registry", "--port", "0", "--topic", topic]
        command += ["--bootstrap-servers", settings.bootstrap_servers]
        command += _properties_file(settings, Path(folder))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("SCHEMA_REGISTRY_BASIC_AUTH_USERS", None)  # measured without auth
        with open(Path(folder) / "registry.log", "w+") as log:
            process = subprocess.Popen(
                command, env=env, cwd=source, stdout=subprocess.PIPE, stderr=log
            )
            try:
                yield _url_of(process, log)
            finally:
                _stop(process)
                with suppress(PipelineError):  # best effort: a topic left is named nowhere
                    delete_topics(settings, [topic])


def _properties_file(settings: Settings, folder: Path) -> list[str]:
    if not settings.client_properties:
        return []
    path = folder / "client.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.client_properties.items()))
    return ["--client-properties", str(path)]


def _url_of(process: subprocess.Popen[bytes], log: IO[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline().decode() if ready else ""
    found = LISTENING.search(line)
    if found is None:
        log.seek(0)
        said = (line.strip() or log.read().strip() or "no output").splitlines()[-1]
        raise BenchError(f"the registry process did not start: {said}")
    return found.group(1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
