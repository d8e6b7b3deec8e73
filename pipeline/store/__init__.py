"""The SQLite audit store: a plain SQLite file (WAL) that the sqlite3 shell or Datasette opens.

kinds.py      Avro type → storage kind → SQLite column type (pure)
admission.py  can the `events` table take a writer schema? (pure)
rows.py       decoded event → SQL parameters (pure)
orders.py     the `orders` upsert that never moves a status backwards
tables.py     the tables and evolution metadata
versions.py   opening the file: connection settings, layout version, upgrades
positions.py  how far each partition is done, kept with the rows (exactly-once sink)
audit.py      `AuditStore`: one transaction per batch, idempotent, evolving
readonly.py   opening the store so that nothing can write (for queries)
"""

from __future__ import annotations

from pipeline.store.audit import AuditStore
from pipeline.store.base import Store, WriteResult, open_store
from pipeline.store.readonly import open_read_only, run_query

__all__ = ["AuditStore", "Store", "WriteResult", "open_read_only", "open_store", "run_query"]
