"""`dev up` starts the API after the registry; `dev status` and `dev down` include it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.devstack.processes import free_port


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_dev_up_serves_the_dashboard_and_down_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the API reads data/audit.db of the folder `dev up` ran in
    home = str(tmp_path / "stack")
    api_port = free_port()
    ports = ["--kafka-port", str(free_port()), "--controller-port", str(free_port())]
    ports += ["--registry-port", str(free_port()), "--api-port", str(api_port)]
    try:
        code, out = run("dev", "up", "--home", home, *ports)
        assert code == 0, out
        assert out.index("registry: started") < out.index("api: started")
        assert f"Dashboard at http://127.0.0.1:{api_port}/" in out
        page = httpx.get(f"http://127.0.0.1:{api_port}/", timeout=10)
        assert page.status_code == 200 and "<title>Order pipeline</title>" in page.text
        ready = httpx.get(f"http://127.0.0.1:{api_port}/ready", timeout=10).json()
        assert ready["parts"]["broker"]["up"] and ready["parts"]["registry"]["up"]

        code, out = run("dev", "status", "--home", home)
        assert code == 0, out
        assert f"api       running        http://127.0.0.1:{api_port}/  pid " in out
    finally:
        code, out = run("dev", "down", "--home", home)
    assert code == 0 and "api: stopped" in out
    assert out.index("api: stopped") < out.index("registry: stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=5)
