"""Services of different experiments never share state by accident: groups named after what
a service reads and writes, outputs named after its input topic."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.producer import ProduceOptions, produce
from pipeline.services.groups import chosen_group, group_for, store_tag
from tests.order_helpers import read_all, register_v1


def test_the_defaults_keep_their_names() -> None:
    defaults = Settings()
    assert [group_for(s, defaults) for s in ("storage", "order-processor", "analytics")] == [
        "storage",
        "order-processor",
        "analytics",
    ]
    assert group_for("storage", defaults.with_(db_path=Path("./data/../data/audit.db"))) == (
        "storage"
    )
    assert defaults.reading(None) == defaults.reading("order-events") == defaults
    assert (defaults.dlq_topic, defaults.alerts_topic, defaults.stats_topic) == (
        "order-events.dlq",
        "order-alerts",
        "order-stats",
    )


def test_another_store_or_topic_gets_a_group_of_its_own(tmp_path: Path) -> None:
    other = Settings(db_path=tmp_path / "other.db")
    assert group_for("storage", other) == f"storage.order-events.{store_tag(other.db_path)}"
    assert store_tag(other.db_path).startswith("other-")
    assert store_tag(tmp_path / "a" / "audit.db") != store_tag(tmp_path / "b" / "audit.db")
    assert group_for("analytics", other) == "analytics"  # analytics writes no store
    lab = Settings().reading("lab")
    assert (lab.dlq_topic, lab.alerts_topic, lab.stats_topic) == (
        "lab.dlq",
        "lab.alerts",
        "lab.stats",
    )
    assert group_for("order-processor", lab) == "order-processor.lab"
    assert group_for("storage", lab) == "storage.lab"


def test_the_default_group_is_refused_to_a_run_on_another_store(tmp_path: Path) -> None:
    other = Settings(db_path=tmp_path / "other.db")
    with pytest.raises(ConfigError, match="group 'storage' is the default pipeline's"):
        chosen_group("storage", other, "storage")
    assert chosen_group("storage", other, "my-experiment") == "my-experiment"
    assert chosen_group("storage", Settings(), "storage") == "storage"
    result = CliRunner().invoke(
        cli, ["consume", "storage", "--db", str(tmp_path / "other.db"), "--group", "storage"]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "leave --group out to use 'storage.order-events.other-" in lines[0]


def test_a_processor_on_another_topic_writes_alerts_named_after_it(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=60, seed=71, anomaly_rate=0.3))
    args = ["--bootstrap-servers", settings.bootstrap_servers]
    args += ["--registry-url", settings.registry_url, "consume", "order-processor"]
    args += ["--topic", settings.topic, "--max-events", "60", "--idle-timeout", "20"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"(group order-processor.{settings.topic})" in result.output
    assert read_all(settings, f"{settings.topic}.alerts", 1)  # not order-alerts
