"""`groups` and the groups section of `dev status`: lag per partition from the real broker."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli.dev import group_summary
from pipeline.cli.main import cli
from pipeline.config import Settings
from tests.order_helpers import register_v1


def run(settings: Settings, *args: str) -> tuple[int, str]:
    root = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    result = CliRunner().invoke(cli, [*root, *args])
    return result.exit_code, result.output


def test_groups_show_committed_end_and_lag_per_partition(settings: Settings) -> None:
    register_v1(settings)
    assert (
        run(settings, "produce", "--topic", settings.topic, "--count", "300", "--seed", "3")[0] == 0
    )
    group = f"analytics-{settings.topic}"
    code, out = run(
        settings,
        "consume",
        "analytics",
        "--topic",
        settings.topic,
        "--group",
        group,
        "--max-events",
        "120",
        "--batch-size",
        "40",
        "--json",
    )
    assert code == 0, out

    code, out = run(settings, "groups", "--topic", settings.topic)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == [
        "group",
        "state",
        "members",
        "topic",
        "partition",
        "committed",
        "end",
        "lag",
    ]
    rows = [line.split() for line in lines[2:] if line.startswith(group + " ")]
    assert [int(r[4]) for r in rows] == list(range(6))  # every partition, committed or not
    assert sum(int(r[6]) for r in rows) == 300  # end offsets
    assert sum(int(r[7]) for r in rows) == 300 - 120  # lag: what the group has not finished
    for r in rows:
        committed = 0 if r[5] == "-" else int(r[5])
        assert int(r[7]) == int(r[6]) - committed
    assert f"{group}: 180 behind (empty, 0 members)" in lines

    code, out = run(settings, "groups", "--topic", settings.topic, "--json")
    assert code == 0
    (found,) = [json.loads(line) for line in out.splitlines()]
    assert found["group"] == group and found["lag"] == 180 and len(found["partitions"]) == 6

    assert any(
        line.strip().startswith(group) and "180 behind on " + settings.topic in line
        for line in group_summary(settings.bootstrap_servers)
    )


def test_a_topic_no_group_reads_says_so(settings: Settings) -> None:
    assert run(settings, "groups", "--topic", settings.topic) == (
        0,
        f"no consumer group has committed offsets on {settings.topic} yet\n",
    )
