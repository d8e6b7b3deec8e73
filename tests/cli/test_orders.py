"""`produce`, `consume` and `dlq` through click's runner against the real broker and registry."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.config import Settings
from tests.order_helpers import produce_raw, register_v1


def test_consume_on_another_topic_dead_letters_to_that_topics_dlq(settings: Settings) -> None:
    register_v1(settings)
    produce_raw(settings, settings.topic, [(b"k1", b"not an order event")])
    root = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    result = CliRunner().invoke(
        cli,
        [
            *root,
            "consume",
            "analytics",
            "--topic",
            settings.topic,
            "--json",
            "--group",
            f"analytics-{settings.topic}",
            "--max-events",
            "1",
            "--idle-timeout",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert settings.dlq_topic == f"{settings.topic}.dlq"
    result = CliRunner().invoke(cli, [*root, "dlq", "--topic", settings.dlq_topic, "--json"])
    assert result.exit_code == 0, result.output
    letters = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(letters) == 1
    headers = letters[0]["headers"]
    assert headers["dlq.kind"] == "not-wire-format"
    assert headers["dlq.topic"] == settings.topic
    assert headers["dlq.service"] == "analytics"


def test_a_client_property_librdkafka_refuses_is_one_line(settings: Settings, tmp_path) -> None:
    props = tmp_path / "client.properties"
    props.write_text("# a typo in a managed cluster's settings\nno.such.property=1\n")
    root = ["--bootstrap-servers", settings.bootstrap_servers, "--client-properties", str(props)]
    for command in (["dlq"], ["consume", "analytics", "--topic", settings.topic]):
        result = CliRunner().invoke(cli, [*root, *command])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: Kafka client configuration refused: ")
        assert "no.such.property" in result.output
        assert "Traceback" not in result.output


def test_consume_refuses_an_unknown_topic_unless_create(settings: Settings) -> None:
    from pipeline.kafka.admin import Admin

    root = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    typo = settings.topic + "-typo"
    args = [*root, "consume", "analytics", "--topic", typo, "--idle-timeout", "1", "--json"]
    result = CliRunner().invoke(cli, args)
    assert (result.exit_code, result.output) == (
        1,
        f"Error: topic '{typo}' does not exist on {settings.bootstrap_servers}: check the name "
        "(python cli.py dev status lists the topics), or add --create to create it and "
        f"{typo}.dlq\n",
    )
    names = Admin.from_settings(settings).names()
    assert typo not in names and f"{typo}.dlq" not in names
    result = CliRunner().invoke(cli, [*args, "--create"])
    assert result.exit_code == 0, result.output
    assert {typo, f"{typo}.dlq"} <= set(Admin.from_settings(settings).names())


def test_produces_hint_names_the_subject_of_another_topic(settings: Settings) -> None:
    root = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    result = CliRunner().invoke(cli, [*root, "produce", "--topic", settings.topic, "--count", "1"])
    subject = f"{settings.topic}-value"
    assert (result.exit_code, result.output) == (
        1,
        f"Error: the schema is not registered under subject '{subject}' (the subject does not "
        f"exist); register it first: python cli.py schema register FILE --subject {subject}\n",
    )
