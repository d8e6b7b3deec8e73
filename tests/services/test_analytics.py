"""Analytics on the real broker: closed windows written once, equal to a pure replay,
across a restart and a lost state folder; `stats` merges them from the stats topic."""

from __future__ import annotations

import json
import shutil
from collections import Counter

from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.producer import ProduceOptions, produce
from pipeline.services.analytics import Analytics
from pipeline.services.counts import total
from pipeline.services.guarantees import Guarantee
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.stats import merge
from pipeline.services.windows import Windowing
from tests.order_helpers import register_v1
from tests.services.stateful_helpers import expected_windows, input_events, written_windows

# The generator's clock moves ~20 ms per event: a 2 s window holds ~100 events.
WINDOWING = Windowing(size_ms=2_000, grace_ms=300)


def run(settings: Settings, count: int, guarantee: Guarantee = Guarantee.EXACTLY_ONCE) -> Analytics:
    analytics = Analytics(settings, windowing=WINDOWING)
    options = RunOptions(
        max_events=count,
        handle_signals=False,
        idle_timeout_s=15,
        group_id=f"{settings.topic}-an",
        batch_size=40,
        guarantee=guarantee,
    )
    assert Runner(settings, analytics, options).run().consumed == count
    return analytics


def test_windows_across_a_restart_and_a_lost_folder_are_those_of_one_pass(
    settings: Settings,
) -> None:
    register_v1(settings)
    options = ProduceOptions(count=1_500, orders=40, seed=31, start_ms=0, anomaly_rate=0.05)
    produce(settings, options)
    run(settings, 500)
    run(settings, 400, Guarantee.AT_LEAST_ONCE)  # same state, committed the other way
    shutil.rmtree(settings.state_dir)
    last = run(settings, 600)
    events = input_events(settings)
    expected, states = expected_windows(events, WINDOWING)
    written = written_windows(settings)
    assert len(expected) > 20
    assert Counter((w.partition, w.start_ms) for w in written) == Counter(
        (w.partition, w.start_ms) for w in expected
    )  # each window once
    assert sorted(written, key=lambda w: (w.partition, w.start_ms)) == sorted(
        expected, key=lambda w: (w.partition, w.start_ms)
    )
    totals = last.picture().totals
    assert totals.events == len(events) == 1_500  # the partitions' running totals
    assert totals.by_status == dict(Counter(str(v["status"]) for _, _, v in events))
    assert totals == total(state.totals for state in states.values())


def test_stats_merges_every_partitions_windows(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=800, orders=30, seed=5, start_ms=0))
    run(settings, 800)
    expected, _ = expected_windows(input_events(settings), WINDOWING)
    picture = merge(expected)
    result = CliRunner().invoke(
        cli,
        [
            "--bootstrap-servers",
            settings.bootstrap_servers,
            "--registry-url",
            settings.registry_url,
            "stats",
            "--topic",
            settings.topic,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown == json.loads(json.dumps(picture.to_dict()))
    assert shown["totals"]["events"] < 800  # as of each partition's last closed window
    table = CliRunner().invoke(
        cli,
        [
            "--bootstrap-servers",
            settings.bootstrap_servers,
            "--registry-url",
            settings.registry_url,
            "stats",
            "--topic",
            settings.topic,
        ],
    )
    assert table.exit_code == 0 and "fulfilment" in table.output
