"""`python cli.py bench`: this pipeline against a textbook baseline, measured in one run.

options.py   what to measure and how much (`BenchOptions`, and its quick variant)
stack.py     the broker and registry to measure on (given, or started and stopped here),
             and a fresh topic, subject, group and SQLite file for each measurement
textbook.py  the baseline, written the way the common tutorials do it
worker.py    the consumer side, run as a child process (ours through the runner, or the
             textbook loop); it reports when it is ready, latencies and when the last row
             was stored
workers.py   the parent's handle on a worker: start, wait for it, sample its memory
stats.py     percentiles and medians
measure.py   the four measurements: producer rate, end-to-end rate, latency, memory
run.py       `run_bench()`: the measurements in order, repeated, into one result
report.py    the table printed, and the JSON written
chart.py     the PNG: throughput, latency percentiles, memory over time
"""
