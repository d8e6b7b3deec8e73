"""Every failure answered as JSON naming the problem: `{"error": "...", ...}`, never a 500.

The pipeline's own errors map to statuses by what the caller can do about them: a refusal
of the lifecycle is 409, an unknown order 404, a dependency that cannot be reached (broker,
registry, store) 503 with `Retry-After`. FastAPI's validation errors become one line that
names the field, plus the list of every problem.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import ConfigError, PipelineError, RegistryError, StoreError
from pipeline.kafka.admin import TopicError
from pipeline.orders import NotDelivered, OrderRefused, UnknownOrder
from pipeline.registry_client import (
    RegistryUnavailable,
    SchemaNotRegisteredError,
    is_not_found,
)

RETRY_AFTER_S = 5
log = logging.getLogger("pipeline.api")


class ApiError(Exception):
    """An answer other than success, raised anywhere in a request's handling."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def unavailable(message: str) -> ApiError:
    return ApiError(503, message, headers={"Retry-After": str(RETRY_AFTER_S)})


def from_pipeline_error(exc: PipelineError) -> ApiError:
    """The status a pipeline error means to an HTTP caller."""
    if isinstance(exc, OrderRefused):
        return ApiError(409, str(exc))
    if isinstance(exc, UnknownOrder):
        return ApiError(404, str(exc))
    if isinstance(exc, RegistryUnavailable | NotDelivered | TopicError | SchemaNotRegisteredError):
        return unavailable(str(exc))
    if isinstance(exc, StoreError):
        return unavailable(f"audit store: {exc}")
    if isinstance(exc, RegistryError) and is_not_found(exc):
        return ApiError(404, str(exc))
    if isinstance(exc, RegistryError | ConfigError):
        return ApiError(400, str(exc))
    return unavailable(str(exc))


def body(exc: ApiError) -> dict[str, Any]:
    return {"error": exc.message, **exc.extra}


def respond(exc: ApiError) -> JSONResponse:
    return JSONResponse(body(exc), status_code=exc.status, headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PipelineError, _pipeline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return respond(exc)


async def _pipeline_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PipelineError)
    return respond(from_pipeline_error(exc))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return JSONResponse(
        {"error": message}, status_code=exc.status_code, headers=dict(exc.headers or {})
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [problem(error) for error in exc.errors()]
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        first = next(e for e in exc.errors() if e.get("type") == "json_invalid")
        reason = first.get("ctx", {}).get("error", "cannot be parsed")
        return JSONResponse({"error": f"the body is not valid JSON: {reason}"}, status_code=400)
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:3])
    return JSONResponse({"error": summary, "problems": problems}, status_code=422)


def problem(error: Mapping[str, Any]) -> dict[str, str]:
    """One validation error as {field, problem}; `body.amount`, `query.limit`, ..."""
    location = ".".join(str(part) for part in error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        text = "unknown field"
    elif kind == "missing":
        text = "required"
    else:
        text = str(error.get("msg", "invalid"))
    return {"field": location or "body", "problem": text}


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not the caller's fault: logged with its traceback, answered in one line.
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": f"internal error: {type(exc).__name__}: {exc}"[:300]}, status_code=500
    )
