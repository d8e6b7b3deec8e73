"""Every command documents itself with an example, as its help promises users."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += all_commands(command, f"{path} ")
    return found


COMMANDS = all_commands(cli)


def test_the_cli_has_every_documented_command_group() -> None:
    top = {path for path, _ in COMMANDS if " " not in path}
    assert top == {
        "api",
        "bench",
        "consume",
        "demo",
        "dev",
        "dlq",
        "groups",
        "produce",
        "query",
        "registry",
        "schema",
        "stats",
    }


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_each_command_has_help_with_an_example(path: str, command: click.Command) -> None:
    assert command.help, f"{path} has no help"
    assert "Example: python cli.py " in command.help, f"{path}'s help shows no example"
    result = CliRunner().invoke(cli, [*path.split(), "--help"])
    assert result.exit_code == 0
    assert "Example: python cli.py" in result.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_option_says_what_it_does(path: str, command: click.Command) -> None:
    silent = [
        "/".join(p.opts) for p in command.params if isinstance(p, click.Option) and not p.help
    ]
    assert silent == [], f"{path}: options without help"


@pytest.mark.parametrize("command", ["down", "logs", "status", "fetch", "reset"])
def test_dev_commands_list_only_the_options_they_use(command: str) -> None:
    shown = CliRunner().invoke(cli, ["dev", command, "--help"]).output
    assert "--home" in shown
    assert "--kafka-port" not in shown and "--heap" not in shown
    assert ("--data-dir" in shown) == (command == "reset")


def test_a_dev_option_that_went_away_still_works_with_a_warning(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["dev", "down", "--home", str(tmp_path), "--kafka-port", "19092"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: dev down ignores --kafka-port" in result.output
    assert "kafka: not running" in result.output
