"""Is the audit store there, and how many rows does it hold? Asked by the sampler each tick.

Either store, through the store package's read-only functions. A SQLite file is opened
afresh each time (cheap, and a file removed or replaced is seen at once); a PostgreSQL
connection is kept between ticks (a connection a second would cost the server more than
the question) and opened again after any failure, so a restarted server is seen as down,
then as up.
"""

from __future__ import annotations

from pipeline.api.store_queries import store_target
from pipeline.config import Settings
from pipeline.errors import StoreError
from pipeline.store.readonly import open_reader, run_query
from pipeline.store.reports import Reader

TABLES = ("events", "orders")


class StoreProbe:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kept: Reader | None = None

    def check(self, count_rows: bool) -> dict[str, int] | None:
        """Row counts per table if `count_rows`, else None; StoreError if the store is not
        there or does not answer."""
        db = self._kept or open_reader(store_target(self.settings))
        keep = self.settings.store_url is not None
        try:
            if count_rows:
                return row_counts(db)
            run_query(db, "SELECT 1")
            return None
        except StoreError:
            keep = False
            raise
        finally:
            self._kept = db if keep else None
            if not keep:
                db.close()

    def close(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None


def row_counts(db: Reader) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        try:
            counts[table] = int(run_query(db, f"SELECT count(*) FROM {table}")[1][0][0])
        except StoreError as exc:
            if "no such table" not in str(exc) and "does not exist" not in str(exc):
                raise
            counts[table] = 0  # the storage service has not created its tables yet
    return counts
