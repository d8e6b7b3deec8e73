"""What can go wrong in a registry request, and the ONE table mapping it to Confluent's codes.

RegistryError (pipeline.errors)
└── ApiError                      a request the registry refuses; has an HTTP status and code
    ├── SubjectNotFound           404 / 40401
    ├── VersionNotFound           404 / 40402
    ├── SchemaNotFound            404 / 40403
    ├── SubjectSoftDeleted        404 / 40404
    ├── SubjectNotSoftDeleted     404 / 40405
    ├── VersionSoftDeleted        404 / 40406
    ├── VersionNotSoftDeleted     404 / 40407
    ├── SubjectConfigNotFound     404 / 40408
    ├── SubjectModeNotFound       404 / 40409
    ├── Incompatible              409 / 409
    ├── InvalidSchema             422 / 42201
    ├── InvalidVersion            422 / 42202
    ├── InvalidCompatibility      422 / 42203
    ├── InvalidMode               422 / 42204
    ├── OperationNotPermitted     422 / 42205
    ├── ReferenceExists           422 / 42206
    ├── BadRequest / Unprocessable / Unauthorized / NotFound / MethodNotAllowed /
    │   LengthRequired / PayloadTooLarge          plain HTTP errors of the request itself
    ├── StoreUnavailable / StoreTimeout            500 / 50001, 50002: Kafka, not the caller
    ├── NotWriter                 500 / 50004: another registry instance writes the topic
    └── NotReady                  503 / 50301: GET /ready, when the registry cannot serve
"""

from __future__ import annotations

from pipeline.errors import RegistryError


class ApiError(RegistryError):
    """A refused request; its message goes to the client as is."""


class SubjectNotFound(ApiError):
    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")


class VersionNotFound(ApiError):
    def __init__(self, subject: str, version: int | str) -> None:
        super().__init__(f"Version {version} not found for subject '{subject}'.")


class SchemaNotFound(ApiError):
    pass


class SubjectSoftDeleted(ApiError):
    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently"
        )


class SubjectNotSoftDeleted(ApiError):
    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was not deleted first before being permanently deleted"
        )


class VersionSoftDeleted(ApiError):
    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was soft deleted. "
            "Set permanent=true to delete permanently"
        )


class VersionNotSoftDeleted(ApiError):
    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was not deleted first "
            "before being permanently deleted"
        )


class SubjectConfigNotFound(ApiError):
    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' does not have subject-level compatibility configured"
        )


class SubjectModeNotFound(ApiError):
    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level mode configured")


class Incompatible(ApiError):
    pass


class InvalidSchema(ApiError):
    pass


class InvalidVersion(ApiError):
    def __init__(self, version: object) -> None:
        super().__init__(
            f"The specified version '{version}' is not a valid version id. "
            'Allowed values are between [1, 2^31-1] and the string "latest"'
        )


class InvalidCompatibility(ApiError):
    def __init__(self, level: object) -> None:
        super().__init__(
            f"Invalid compatibility level {level!r}. Valid values are none, backward, "
            "forward, full, backward_transitive, forward_transitive, and full_transitive"
        )


class InvalidMode(ApiError):
    def __init__(self, mode: object) -> None:
        super().__init__(f"Invalid mode {mode!r}. Valid values are READWRITE, READONLY, IMPORT")


class OperationNotPermitted(ApiError):
    pass


class ReferenceExists(ApiError):
    pass


class BadRequest(ApiError):
    pass


class Unprocessable(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class NotFound(ApiError):
    pass


class MethodNotAllowed(ApiError):
    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed  # sent in the Allow header, which a 405 must carry


class LengthRequired(ApiError):
    pass


class PayloadTooLarge(ApiError):
    pass


class StoreUnavailable(ApiError):
    pass


class StoreTimeout(ApiError):
    pass


class NotWriter(ApiError):
    pass


class NotReady(ApiError):
    pass


# The one place that knows Confluent's codes: (HTTP status, error_code).
ERROR_CODES: dict[type[ApiError], tuple[int, int]] = {
    SubjectNotFound: (404, 40401),
    VersionNotFound: (404, 40402),
    SchemaNotFound: (404, 40403),
    SubjectSoftDeleted: (404, 40404),
    SubjectNotSoftDeleted: (404, 40405),
    VersionSoftDeleted: (404, 40406),
    VersionNotSoftDeleted: (404, 40407),
    SubjectConfigNotFound: (404, 40408),
    SubjectModeNotFound: (404, 40409),
    Incompatible: (409, 409),
    InvalidSchema: (422, 42201),
    InvalidVersion: (422, 42202),
    InvalidCompatibility: (422, 42203),
    InvalidMode: (422, 42204),
    OperationNotPermitted: (422, 42205),
    ReferenceExists: (422, 42206),
    BadRequest: (400, 400),
    Unauthorized: (401, 401),
    NotFound: (404, 404),
    MethodNotAllowed: (405, 405),
    LengthRequired: (411, 411),
    PayloadTooLarge: (413, 413),
    Unprocessable: (422, 422),
    StoreUnavailable: (500, 50001),
    StoreTimeout: (500, 50002),
    NotWriter: (500, 50004),
    NotReady: (503, 50301),
}


def status_and_code(error: ApiError) -> tuple[int, int]:
    """The HTTP status and Confluent error_code of an error (500/50001 if not in the table)."""
    return ERROR_CODES.get(type(error), (500, 50001))
