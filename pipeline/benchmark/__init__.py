"""Every benchmark of the project, and the one textbook baseline they compare against.

`order-pipeline bench` (the comparison), and one benchmark per part, each also runnable
as `python -m pipeline.benchmark.<name>` and as `order-pipeline bench <name>`:

textbook.py     the baseline, written the way the common tutorials do it: the stock Avro
                serializer and producer loop, and a consumer storing one row and one
                commit per message (its encoder and table are what the others compare with)
stack.py        the broker and registry to measure on (given, or started and stopped here),
                and a fresh topic, subject, group and SQLite file for each measurement
commandline.py  what each `python -m pipeline.benchmark.<name>` shares: where to measure,
                one-line errors

The comparison (`order-pipeline bench`):
options.py      what to measure and how much (`BenchOptions`, and its quick variant)
worker.py       the consumer side, run as a child process (ours through the runner, or the
                textbook loop); it reports when it is ready, latencies and when the last row
                was stored
workers.py      the parent's handle on a worker: start, wait for it, sample its memory
stats.py        percentiles and medians
measure.py      the four measurements: producer rate, end-to-end rate, latency, memory
run.py          `run_bench()`: the measurements in order, repeated, into one result
report.py       the table printed, and the JSON written
chart.py        the PNG: throughput, latency percentiles, memory over time

One part each:
producer.py     our Avro encoder against the stock serializer, in the same producer loop
registry.py     registration latency and lookups per second (registry_process.py runs the
                registry in a process of its own)
store.py        the audit store alone: batched writes, memory, one commit per event
store_e2e.py    the storage service end to end, through Kafka and the runner
devstack.py     how long `dev up` takes, and the broker's memory
"""
