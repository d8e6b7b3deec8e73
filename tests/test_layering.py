"""The house rules of the layout, checked on the source (pure: no server).

`lint-imports` (in `make lint`) checks that layers import downwards only; these checks
cover what an import graph cannot see: who builds Kafka clients, who administers topics,
who translates the registry client's errors, who names a topic's value subject.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "pipeline"
KAFKA_CLIENTS = {"Producer", "Consumer", "AdminClient"}
TOPIC_ADMIN = {"create_topics", "delete_topics", "create_partitions"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        yield name, ast.parse(path.read_text(), str(path))


def called_names(tree: ast.Module, *, methods_only: bool = False) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and not methods_only:
                yield func.id
            elif isinstance(func, ast.Attribute):
                yield func.attr


def imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def offenders(rule: str) -> list[str]:
    found = []
    for name, tree in modules():
        if rule == "kafka-clients" and not name.startswith("pipeline.kafka"):
            hits = sorted(set(called_names(tree)) & KAFKA_CLIENTS)
            hits += sorted(set(called_names(tree, methods_only=True)) & TOPIC_ADMIN)
            hits += [m for m in imported(tree) if m.startswith("confluent_kafka.admin")]
        elif rule == "registry-errors" and name != "pipeline.registry_client":
            hits = [
                m
                for m in imported(tree)
                if "SchemaRegistryError" in m or "schema_registry.error" in m
            ]
            hits += [c for c in called_names(tree) if c == "SchemaRegistryClient"]
        elif rule == "value-subject" and name != "pipeline.registry_client":
            hits = [
                "f-string ending in -value"
                for node in ast.walk(tree)
                if isinstance(node, ast.JoinedStr)
                and node.values
                and isinstance(node.values[-1], ast.Constant)
                and str(node.values[-1].value).endswith("-value")
            ]
        else:
            hits = []
        if hits:
            found.append(f"{name}: {', '.join(sorted(set(hits)))}")
    return found


@pytest.mark.parametrize(
    "rule, home",
    [
        ("kafka-clients", "pipeline.kafka builds Kafka clients and administers topics"),
        ("registry-errors", "pipeline.registry_client connects and translates registry errors"),
        ("value-subject", "pipeline.registry_client.value_subject names a topic's subject"),
    ],
)
def test_one_home_per_concept(rule: str, home: str) -> None:
    assert offenders(rule) == [], f"only {home}"


def test_the_layering_contract_holds_and_catches_an_upward_import(tmp_path: Path) -> None:
    lint = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    kept = subprocess.run(lint, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert kept.returncode == 0, kept.stdout[-2000:]
    # A copy of the package where the data model imports a service: the contract breaks.
    copy = tmp_path / "repo"
    copy.mkdir()
    (copy / "pyproject.toml").write_text((REPO_ROOT / "pyproject.toml").read_text())
    subprocess.run(["cp", "-r", str(PACKAGE), str(copy / "pipeline")], check=True)
    model = copy / "pipeline" / "model.py"
    model.write_text(model.read_text() + "\nimport pipeline.services.runner  # noqa\n")
    env = {"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"}
    broken = subprocess.run(lint, cwd=copy, capture_output=True, text=True, timeout=120, env=env)
    assert broken.returncode != 0
    assert "pipeline.model -> pipeline.services.runner" in broken.stdout
