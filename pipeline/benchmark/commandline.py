"""What every `python -m pipeline.benchmark.<name>` shares: where to measure, and how it ends.

The broker and the registry follow the rule of `order-pipeline bench`: the ones named by a
flag or the environment (`KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`) are used, and
what is not named is started for the run (a throwaway broker, the project's registry) and
stopped after. A pipeline error ends the run with one line and exit 1; Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline.benchmark.stack import Target
from pipeline.config import Settings, load_client_properties
from pipeline.errors import PipelineError

INTERRUPTED = 130
Out = Callable[[str], None]  # where a benchmark's lines go (stdout here, click.echo in the CLI)


def say(line: str) -> None:
    print(line, flush=True)  # at once, even into a pipe: runs take minutes


def at_least_one(text: str) -> int:
    """An argparse type for counts (runs, repeats): a whole number of one or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """`--json PATH`: where `show_figures` also writes the figures."""
    parser.add_argument("--json", type=Path, help="Also write the figures here.")


def show_figures(figures: Mapping[str, Any], lines: list[str], json_path: Path | None) -> None:
    """Print a benchmark's summary lines, and write its figures as JSON where asked to."""
    for line in lines:
        say(line)
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2))


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        help="Kafka brokers [KAFKA_BOOTSTRAP_SERVERS; else a throwaway broker for the run]",
    )
    parser.add_argument(
        "--registry-url",
        help="Schema registry [SCHEMA_REGISTRY_URL; else the project's, started for the run]",
    )
    parser.add_argument(
        "--client-properties", type=Path, help="A key=value file of librdkafka properties."
    )


def target_of(args: argparse.Namespace) -> Target:
    props = load_client_properties(args.client_properties) if args.client_properties else None
    settings = Settings.from_env(
        bootstrap_servers=args.bootstrap_servers,
        registry_url=args.registry_url,
        client_properties=props,
    )
    return Target(
        settings,
        own_broker=not (args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
        own_registry=not (args.registry_url or os.environ.get("SCHEMA_REGISTRY_URL")),
    )


def run_main(body: Callable[[], object]) -> int:
    """Run a benchmark's body (it prints as it goes); errors become one line and an exit code."""
    try:
        body()
    except PipelineError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped: no figures written", file=sys.stderr)
        return INTERRUPTED
    return 0
