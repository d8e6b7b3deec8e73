"""Connecting to a PostgreSQL audit store: its URL, timeouts, and failures in one line.

A URL is shown as host:port/database only: the user's password never reaches a message.
Failures fall in two kinds: the server cannot be reached or went away (`StoreUnreachable`:
the writer waits and tries the batch again), and everything else (a full disk, a missing
privilege, a wrong password), which stops the service with one line.
"""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pipeline.errors import StoreError

CONNECT_TIMEOUT_S = 5
URL_SCHEMES = ("postgresql://", "postgres://")
# SQLSTATE classes of a server gone or going: connection exceptions, shutdown, crash.
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03")


_NOT_AWAY = (
    "authentication",
    "password",
    "does not exist",
    "permission denied",
    "pg_hba.conf",
    "translate host name",
    "invalid",
)


class StoreUnreachable(StoreError):
    """The database cannot be reached (or went away mid-transaction): nothing was written."""


def is_postgres_url(target: str) -> bool:
    return target.startswith(URL_SCHEMES)


def where(url: str) -> str:
    """host:port/database of a URL, without its user or password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable PostgreSQL URL"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    database = str(params.get("dbname") or params.get("user") or "")
    return f"{host}:{port}/{database}"


def connect(url: str, application: str) -> psycopg.Connection:
    """A connection in UTC; StoreError naming host and port (within CONNECT_TIMEOUT_S)."""
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name=application)
    except psycopg.ProgrammingError as exc:  # the URL itself does not parse
        raise StoreError(f"not a usable PostgreSQL URL ({where(url)}): {reason(exc)}") from exc
    except psycopg.OperationalError as exc:
        # Refused, timed out, shutting down, starting up: the server is away (a running
        # writer waits for it). A wrong password, role, database or host name is not.
        text = str(exc).lower()
        kind = StoreError if any(m in text for m in _NOT_AWAY) else StoreUnreachable
        raise kind(f"cannot connect to PostgreSQL at {where(url)}: {reason(exc)}") from exc
    conn.execute("SET TimeZone TO 'UTC'")
    conn.commit()
    return conn


def is_unreachable(exc: BaseException) -> bool:
    """True for a lost connection or a server shutting down, not for a refused statement."""
    if isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None:
        return True  # no answer from the server at all
    state = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.Error) and state.startswith(_UNREACHABLE_STATES)


def reason(exc: BaseException) -> str:
    """The server's or the driver's message in one line, without psycopg's own prefix."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    # "connection to server at "127.0.0.1", port 1 failed: Connection refused" -> the cause
    text = text.split(" failed: ")[-1]
    for prefix in ("FATAL:  ", "ERROR:  "):
        text = text.removeprefix(prefix)
    return _URL.sub("<the URL>", text)  # a parse error quotes the URL, password and all


_URL = re.compile(r"\w+://\S*")
