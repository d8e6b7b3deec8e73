"""Maven resolution of the broker's jars: cached, and one clear line when it cannot resolve."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.devstack import jars, kafka, testing
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import DevStackError

UNRESOLVABLE_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.test</groupId>
  <artifactId>unresolvable</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>local.test.nowhere</groupId>
      <artifactId>no-such-artifact</artifactId>
      <version>0.0.1</version>
    </dependency>
  </dependencies>
</project>
"""


def test_an_unresolvable_pom_is_one_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text(UNRESOLVABLE_POM)
    settings = DevStackSettings(home=tmp_path / "home")
    with pytest.raises(DevStackError) as caught:
        jars.kafka_classpath(settings, pom)
    message = str(caught.value)
    assert message.startswith("Maven could not resolve Kafka's jars from pom.xml: ")
    assert "no-such-artifact" in message
    assert "\n" not in message
    assert not settings.classpath_file.exists()
    assert not (settings.home / "classpath.resolving").exists()


def test_the_classpath_is_cached_per_pom_and_every_jar_exists(tmp_path: Path) -> None:
    settings = DevStackSettings(home=tmp_path)
    classpath = jars.kafka_classpath(settings)
    entries = classpath.split(os.pathsep)
    assert any(Path(e).name.startswith("kafka_2.13-4.") for e in entries)
    assert all(Path(e).is_file() for e in entries)
    stamp = settings.classpath_file.read_text().splitlines()[0]
    assert stamp == jars.pom_digest()
    # A second call reads the cache: Maven is not asked again.
    settings.classpath_file.write_text(f"{stamp}\n{classpath}")
    assert jars.kafka_classpath(settings) == classpath


def test_storage_is_formatted_even_with_a_cluster_id_that_starts_with_a_dash(
    tmp_path: Path,
) -> None:
    """A kept id from an older run may start with "-"; the storage tool must not take it
    for an option."""
    settings = testing.test_stack_settings(tmp_path)
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.cluster_id_file.write_text("-Lxsq8mTQ1uTpkM5wN8hJw\n")
    kafka.prepare(settings, jars.java_executable(), jars.kafka_classpath(settings))
    meta = (settings.kafka_data / "meta.properties").read_text()
    assert "cluster.id=-Lxsq8mTQ1uTpkM5wN8hJw" in meta


def test_the_default_home_relative_to_the_working_folder_resolves_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default home is `.devstack` relative to where commands run (a fresh clone has no
    classpath yet): Maven must write its answer there, not beside the pom."""
    monkeypatch.chdir(tmp_path)
    settings = DevStackSettings()
    assert not settings.home.is_absolute()
    classpath = jars.kafka_classpath(settings)
    assert (tmp_path / ".devstack" / "classpath.txt").read_text().endswith(classpath)
