"""`cli.py registry serve`: serves until SIGTERM, then stops cleanly with a summary."""

from __future__ import annotations

import re
import signal
import sys
import uuid
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli.main import cli
from tests.registry.helpers import call, field, record, register, serving_process


def test_serve_until_sigterm(kafka_bootstrap: str) -> None:
    topic = f"_schemas-test-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "cli.py", "--bootstrap-servers", kafka_bootstrap]
    command += ["registry", "serve", "--port", "0", "--topic", topic]
    with serving_process(command) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+) \(topic (\S+)\)", first)
        assert match is not None, first
        assert match.group(2) == topic
        url = match.group(1)
        assert register(url, "cli-value", record("CliOrder", field("id", "string")))["id"] == 1
        assert call(url, "GET", "/subjects") == (200, ["cli-value"])
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert re.search(r"stopped after 0m\d\ds: 1 subjects, 1 schema ids", out), out


def test_bad_auth_file_is_one_clean_line(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("no-colon-here\n")
    result = CliRunner().invoke(
        cli, ["registry", "serve", "--port", "0", "--basic-auth-file", str(users)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {users}:1: expected user:password"
