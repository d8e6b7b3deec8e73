"""The CLI's command groups, one module each; `cli.py` assembles them."""
