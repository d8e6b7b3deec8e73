"""`python -m pipeline ...` is the `order-pipeline` command."""

from pipeline.cli.main import main

main(prog_name="python -m pipeline")
