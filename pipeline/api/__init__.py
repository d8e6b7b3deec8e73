"""The HTTP API and the live dashboard: `create_app` (app.py), `serve` (server.py)."""
