"""`schema ...` through click's runner against the real registry, with exact exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from tests.paths import REPO_ROOT as PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "schemas"
V1, V2, V3 = (str(SCHEMAS / f"order_event.{v}.avsc") for v in ("v1", "v2", "v3"))
BREAKING = str(SCHEMAS / "order_event.breaking.avsc")


@pytest.fixture
def schema_cmd(registry_url: str) -> Callable[..., tuple[int, str]]:
    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--registry-url", registry_url, "schema", *args])
        return result.exit_code, result.output

    return run


@pytest.fixture
def subject(unique: Callable[[str], str]) -> str:
    return unique("orders") + "-value"


def test_register_show_list_and_idempotent_reregister(schema_cmd, subject: str) -> None:
    code, out = schema_cmd("register", V1, "--subject", subject)
    assert code == 0
    assert out.startswith(f"registered order_event.v1.avsc in {subject}: id ")
    assert out.strip().endswith("version 1")
    first_id = out.split("id ")[1].split(",")[0]

    code, again = schema_cmd("register", V1, "--subject", subject)
    assert (code, again) == (
        0,
        f"order_event.v1.avsc is already registered in {subject} as version 1 "
        f"(id {first_id}): nothing changed\n",
    )

    code, out = schema_cmd("register", V2, "--subject", subject)
    assert code == 0 and out.strip().endswith("version 2")

    code, out = schema_cmd("show", subject, "--version", "1")
    assert code == 0
    assert out.splitlines()[0] == f"subject {subject} version 1 id {first_id}"
    assert '"name": "OrderEvent"' in out

    code, out = schema_cmd("list")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith(subject))
    assert line.startswith(f"{subject}  [BACKWARD]  v1 (id {first_id}), v2 (id ")


def test_check_reports_the_registrys_reasons_and_levels(schema_cmd, subject: str) -> None:
    assert schema_cmd("register", V2, "--subject", subject)[0] == 0

    code, out = schema_cmd("check", V3, "--subject", subject)
    assert code == 0
    assert out.startswith(f"order_event.v3.avsc in {subject} at BACKWARD: accepted")

    code, out = schema_cmd("check", V3, "--subject", subject, "--level", "FORWARD")
    assert code == 1
    assert out.splitlines() == [
        f"order_event.v3.avsc in {subject} at FORWARD: refused (checked locally at this level)",
        "  - field 'status': the new schema has enum symbol(s) CANCELLED that version 1 lacks, "
        "and version 1's enum has no default: version 1 cannot read data written with the new "
        "schema",
    ]

    code, out = schema_cmd("check", BREAKING, "--subject", subject)
    assert code == 1
    assert out.splitlines() == [
        f"order_event.breaking.avsc in {subject} at BACKWARD: refused",
        f"  - {USER_ID_REFUSED}",
    ]


USER_ID_REFUSED = (
    "field 'user_id' is a string in version 1 but a long in the new schema, and Avro cannot "
    "promote string to long: the new schema cannot read data written with version 1"
)


def test_a_refused_registration_reads_like_check(schema_cmd, subject: str) -> None:
    assert schema_cmd("register", V2, "--subject", subject)[0] == 0
    code, out = schema_cmd("register", BREAKING, "--subject", subject)
    assert (code, out) == (
        1,
        f"Error: order_event.breaking.avsc refused in '{subject}' at BACKWARD: {USER_ID_REFUSED}\n",
    )
    assert "errorType" not in out


def test_config_reads_and_sets_a_subject_level(schema_cmd, subject: str) -> None:
    assert schema_cmd("register", V1, "--subject", subject)[0] == 0
    global_level = schema_cmd("config")[1].split(": ")[1].strip()
    assert schema_cmd("config", "--subject", subject) == (
        0,
        f"{subject}: {global_level} (inherited from the global level)\n",
    )
    assert schema_cmd("config", "--subject", subject, "full") == (0, f"{subject}: FULL (set)\n")
    assert schema_cmd("config", "--subject", subject) == (0, f"{subject}: FULL (its own)\n")
    code, out = schema_cmd("check", V3, "--subject", subject)
    assert code == 1 and "at FULL: refused" in out


def test_config_on_a_subject_that_does_not_exist_asks_for_create(schema_cmd, subject: str) -> None:
    assert schema_cmd("config", "--subject", subject, "NONE") == (
        1,
        f"Error: subject '{subject}' does not exist: check the name (python cli.py schema "
        "list), or add --create to set the level of a subject before its first schema\n",
    )
    assert schema_cmd("config", "--subject", subject, "NONE", "--create") == (
        0,
        f"{subject}: NONE (set)\n",
    )


def test_delete_soft_then_permanent(schema_cmd, subject: str) -> None:
    assert schema_cmd("register", V1, "--subject", subject)[0] == 0
    assert schema_cmd("register", V2, "--subject", subject)[0] == 0
    code, out = schema_cmd("delete", subject, "--version", "2", "--permanent")
    assert (code, out) == (  # permanent only after soft, said in the CLI's own words
        1,
        f"Error: version 2 of '{subject}' must be soft-deleted before a permanent delete: "
        f"python cli.py schema delete {subject} --version 2, then the same with --permanent\n",
    )
    assert schema_cmd("delete", subject, "--version", "2") == (
        0,
        f"{subject}: soft-deleted version(s) 2\n",
    )
    code, out = schema_cmd("show", subject)
    assert code == 0 and out.startswith(f"subject {subject} version 1 ")
    assert schema_cmd("delete", subject) == (0, f"{subject}: soft-deleted version(s) 1\n")
    code, out = schema_cmd("delete", subject)
    assert (code, out) == (
        1,
        f"Error: subject '{subject}' is already soft-deleted; to delete it for good: "
        f"python cli.py schema delete {subject} --permanent\n",
    )
    assert "permanent=true" not in out


def test_diff_and_matrix_need_no_registry(schema_cmd) -> None:
    code, out = schema_cmd("diff", V1, V2)
    assert code == 0
    assert out == (
        "- field amount added: null | double, default null\n"
        '- field currency added: string, default "EUR"\n'
    )
    code, out = schema_cmd("matrix", V2, V3)
    assert code == 0
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:1].isupper()}
    assert rows["BACKWARD"] == "accepted" and rows["FORWARD"] == "REFUSED"
    assert rows["FULL_TRANSITIVE"] == "REFUSED" and rows["NONE"] == "accepted"
    assert "old schema reads new data: 12/60 records fail" in out
    assert (
        "   - field 'status': the new schema has enum symbol(s) CANCELLED that the old schema "
        "lacks, and the old schema's enum has no default: the old schema cannot read data "
        "written with the new schema"
    ) in out
    assert "errorType" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("register", "missing.avsc"), "Error: cannot read schema file missing.avsc"),
        (("show", "no-such-subject-value"), "Error: subject 'no-such-subject-value': "),
        (("config", "SIDEWAYS"), "Error: unknown level 'SIDEWAYS': choose one of BACKWARD,"),
        (("check", V1, "--level", "sideways"), "Error: unknown level 'sideways'"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(schema_cmd, args: tuple[str, ...], message: str) -> None:
    code, out = schema_cmd(*args)
    assert code == 1
    assert out.startswith(message)
    assert len(out.strip().splitlines()) == 1


def test_a_file_that_is_not_json_is_one_line(schema_cmd, tmp_path: Path) -> None:
    bad = tmp_path / "bad.avsc"
    bad.write_text("{not json")
    code, out = schema_cmd("diff", str(bad), V1)
    assert code == 1
    assert out.startswith(f"Error: {bad} is not a valid Avro schema")
