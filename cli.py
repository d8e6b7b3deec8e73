"""The entry point the README uses: `python cli.py ...` is the `order-pipeline` command."""

from pipeline.cli.main import main

if __name__ == "__main__":
    main(prog_name="cli.py")
