"""State that survives restarts and rebalances: one mechanism every stateful service uses.

Each input partition has its own table (`table.Table`): a local SQLite file in the
instance's own locked state folder (`folder.py`, `store.py`), every change also written to
a compacted changelog topic `<group>.<topic>.changelog`, partition for partition
(`changelog.py`). `manager.StateManager` restores a partition on assignment (`restore.py`),
stages a batch's changes into the batch's output (one Kafka transaction under
exactly-once) and writes the local files only once that output is committed.
"""
