"""The command line: one module per command group, assembled by `main.py`.

Each command parses its options, calls one function in `pipeline/`, and presents the
result; terminal views (tables, live views) live here too, not in the library.
"""
