"""The two audit stores under one test interface, so one suite checks both behave alike.

A test asks for `target` (parametrized: SQLite on a temporary file, PostgreSQL in a schema
of its own in the session's throwaway database) and reads what was stored with
`target.fetch(sql)`: values come back in SQLite's forms (times as ISO text, booleans as
0/1), so one expectation fits both.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from pipeline.store.base import Store, open_store
from pipeline.store.rows import iso_timestamp
from tests.order_helpers import fetch


class Target:
    kind = ""

    def open(self, registry_id: str = "") -> Store:
        raise NotImplementedError

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def fail_inserts_at_offset(self, offset: int) -> None:
        """Make the store's inserts fail for events at `offset` (a disk that fails)."""
        raise NotImplementedError

    def stop_failing(self) -> None:
        raise NotImplementedError


class SqliteTarget(Target):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self, registry_id: str = "") -> Store:
        return open_store(self.path, registry_id=registry_id)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        return fetch(self.path, sql)

    def execute(self, sql: str) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute(sql)

    def fail_inserts_at_offset(self, offset: int) -> None:
        self.execute(
            f"CREATE TRIGGER fail BEFORE INSERT ON events WHEN NEW.kafka_offset = {offset} "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )

    def stop_failing(self) -> None:
        self.execute("DROP TRIGGER fail")


class PostgresTarget(Target):
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url

    def open(self, registry_id: str = "") -> Store:
        return open_store(self.url, registry_id=registry_id)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return [tuple(_sqlite_form(v) for v in row) for row in conn.execute(sql)]

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def fail_inserts_at_offset(self, offset: int) -> None:
        self.execute(
            "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.kafka_offset = {offset} THEN RAISE EXCEPTION 'disk on fire'; END IF; "
            "RETURN NEW; END $$"
        )
        self.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION fail()"
        )

    def stop_failing(self) -> None:
        self.execute("DROP TRIGGER fail ON events")
        self.execute("DROP FUNCTION fail()")


def _sqlite_form(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return iso_timestamp(value.astimezone(dt.UTC))
    if isinstance(value, Decimal):
        return str(value)
    return value


def with_search_path(url: str, schema: str) -> str:
    """The URL with `schema` first on its search path (a store of its own per test)."""
    option = quote(f"-csearch_path={schema}")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A database of its own on the test server (never the user's store), dropped after."""
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_schema(database_url: str) -> Iterator[str]:
    """A URL whose store lives in a fresh schema of `database_url`; dropped after."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield with_search_path(database_url, name)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
