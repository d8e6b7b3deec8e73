"""`python -m pipeline.registry`: the schema registry as a process of its own (`dev up` runs it).

The same server as `order-pipeline registry serve`, without the CLI above it: the registry
is a lower layer than the command line and must start without it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline.config import Settings, load_client_properties
from pipeline.errors import PipelineError
from pipeline.registry.run import serve


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.registry", description=__doc__)
    parser.add_argument("--bootstrap-servers", help="Kafka brokers [KAFKA_BOOTSTRAP_SERVERS]")
    parser.add_argument("--client-properties", type=Path, help="key=value librdkafka properties")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--topic", default="_schemas")
    parser.add_argument("--basic-auth-file", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        props = load_client_properties(args.client_properties) if args.client_properties else None
        settings = Settings.from_env(
            bootstrap_servers=args.bootstrap_servers, client_properties=props
        )
        summary = serve(
            settings,
            host=args.host,
            port=args.port,
            topic=args.topic,
            basic_auth_file=args.basic_auth_file,
            on_started=lambda url: print(f"schema registry listening on {url}", flush=True),
        )
    except PipelineError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"schema registry stopped: {summary.subjects} subjects, {summary.schemas} schema ids")
    return 0


if __name__ == "__main__":
    sys.exit(main())
