"""Each benchmark runs as `python -m pipeline.benchmark.<name>`; where it measures follows
the flags and the environment; bad input is one line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.benchmark.commandline import (
    add_json_argument,
    add_target_arguments,
    run_main,
    show_figures,
    target_of,
)
from pipeline.benchmark.registry import main as registry_main
from pipeline.errors import ConfigError

NAMES = ("producer", "registry", "store", "store_e2e", "devstack")


@pytest.mark.parametrize("name", NAMES)
def test_each_benchmark_is_a_module_with_its_own_usage(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"pipeline.benchmark.{name}", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m pipeline.benchmark.{name} ")


def test_what_is_not_named_is_started_for_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_target_arguments(parser)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    target = target_of(parser.parse_args([]))
    assert target.own_broker and target.own_registry
    target = target_of(parser.parse_args(["--bootstrap-servers", "h:1"]))
    assert not target.own_broker and target.own_registry
    assert target.settings.bootstrap_servers == "h:1"
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://r:2")
    target = target_of(parser.parse_args([]))
    assert target.own_broker and not target.own_registry
    assert target.settings.registry_url == "http://r:2"


def test_figures_are_printed_and_written_as_json_only_where_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_json_argument(parser)
    figures = {"lookups_per_s": 1234.5}
    show_figures(figures, ["a line", "another"], parser.parse_args([]).json)
    assert capsys.readouterr().out == "a line\nanother\n"
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "figures.json"
    show_figures(figures, [], parser.parse_args(["--json", str(path)]).json)
    assert json.loads(path.read_text()) == figures


def test_a_pipeline_error_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse() -> None:
        raise ConfigError("no such thing")

    assert run_main(refuse) == 1
    assert capsys.readouterr().err == "Error: no such thing\n"


def test_ctrl_c_stops_with_130(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    assert run_main(interrupted) == 130
    assert capsys.readouterr().err == "stopped: no figures written\n"


def test_a_missing_properties_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.properties"
    code = registry_main(
        ["--registry-url", "http://127.0.0.1:9", "--client-properties", str(missing)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and str(missing) in err and err.count("\n") == 1


@pytest.mark.parametrize("repeats", ["0", "-2", "three"])
def test_a_repeat_count_below_one_is_a_usage_error_before_anything_starts(
    repeats: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.benchmark.before_after import main

    with pytest.raises(SystemExit) as exited:
        main(["--repeats", repeats])  # before: 0 ran a warm-up, then an IndexError
    assert exited.value.code == 2
    assert "--repeats" in capsys.readouterr().err
