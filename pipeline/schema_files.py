"""The project's Avro schema files, as the package carries them, and reading one safely.

`schemas/` at the repository root is what users and the README work with; the package
holds a copy (`pipeline/schemas/`, kept identical by a test) so that an installed
`order-pipeline` finds its schemas without the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastavro import parse_schema
from fastavro.schema import SchemaParseException

from pipeline.errors import SchemaError

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
ORDER_EVENT_V1 = SCHEMAS_DIR / "order_event.v1.avsc"
ORDER_EVENT_V2 = SCHEMAS_DIR / "order_event.v2.avsc"
ORDER_EVENT_V3 = SCHEMAS_DIR / "order_event.v3.avsc"
ORDER_EVENT_BREAKING = SCHEMAS_DIR / "order_event.breaking.avsc"
ORDER_ALERT = SCHEMAS_DIR / "order_alert.v1.avsc"
ORDER_STATS = SCHEMAS_DIR / "order_stats.v1.avsc"


def load_schema_file(path: Path) -> str:
    """The schema file's text, checked to be JSON and valid Avro."""
    try:
        text = path.read_text(encoding="utf-8")
        parse_schema(json.loads(text))
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc.strerror}") from exc
    except (ValueError, SchemaParseException) as exc:  # bad JSON, bad Avro, unknown type
        raise SchemaError(f"{path} is not a valid Avro schema: {exc}") from exc
    return text
