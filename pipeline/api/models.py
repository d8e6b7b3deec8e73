"""Request and response bodies, as the OpenAPI description shows them.

Requests forbid unknown fields, so a misspelt field is named in a 422 instead of being
silently dropped.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Source = Literal["WEB", "MOBILE", "API"]
NextStatus = Literal["CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"]
AnyStatus = Literal["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewOrder(Strict):
    user_id: str = Field(min_length=1, max_length=100, examples=["user-00042"])
    source: Source = "API"
    amount: float | None = Field(default=None, ge=0, le=1e9, examples=[42.5])
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")

    @field_validator("amount")
    @classmethod
    def finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class StatusChange(Strict):
    status: NextStatus


class Accepted(BaseModel):
    """The broker acknowledged the event (acks=all)."""

    order_id: str
    event_id: str
    status: AnyStatus
    schema_id: int | None
    schema_version: int | None
    partition: int | None
    offset: int | None
    replayed: bool = Field(description="true: an earlier request with this Idempotency-Key")


class ErrorBody(BaseModel):
    error: str
    problems: list[dict[str, str]] | None = None


class SchemaCheck(Strict):
    schema_: str = Field(alias="schema", min_length=1, max_length=200_000)
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    level: str | None = Field(default=None, max_length=40)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an operation (all share ErrorBody)."""
    return {status: {"model": ErrorBody} for status in statuses}
