"""The pipeline's error hierarchy. The CLI turns any `PipelineError` into one line and exit 1.

PipelineError
├── ConfigError          bad settings, flags or files given by the user
├── DevStackError        the local Kafka / registry processes cannot be set up or run
│   └── MissingToolError Java or Maven missing or too old
├── RegistryError        the schema registry refused a request or cannot be reached
├── SchemaError          a schema file is missing, not JSON or not valid Avro
└── StoreError           the SQLite audit store cannot be opened or queried
"""

from __future__ import annotations


class PipelineError(Exception):
    """Something the user can act on; its message is shown as is."""


class ConfigError(PipelineError):
    pass


class DevStackError(PipelineError):
    pass


class MissingToolError(DevStackError):
    pass


class RegistryError(PipelineError):
    pass


class SchemaError(PipelineError):
    pass


class StoreError(PipelineError):
    pass
