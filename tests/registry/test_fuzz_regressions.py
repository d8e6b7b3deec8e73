"""Regressions for the 5xx answers and protocol slips that fuzzing the registry turned up.

Each answered 500 (or 501, or a 405 without Allow) before its fix; each now gets the 4xx a
client can act on, and writes nothing.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from pipeline.registry.bodies import schema_request
from pipeline.registry.errors import InvalidSchema, Unprocessable
from pipeline.registry.schemas import parse_avro
from tests.registry.helpers import call, field, record, register

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def deep_arrays(levels: int) -> str:
    return '{"type": "array", "items": ' * levels + '"int"' + "}" * levels


def with_lone_surrogate() -> str:
    # A JSON body may escape a lone surrogate; the decoded text then cannot be UTF-8.
    return '{"type": "record", "name": "Lone", "doc": "\ud800", "fields": []}'


@pytest.fixture
def subject(unique: Callable[[str], str]) -> str:
    return unique("regress") + "-value"


def exchange(url: str, method: str, path: str) -> tuple[int, str | None, dict[str, object]]:
    """(status, Allow header, JSON body) of one bodiless request."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.getheader("Allow"), json.loads(response.read())
    finally:
        conn.close()


# --- found by schemathesis --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "CONNECT"])
def test_standard_methods_a_route_lacks_are_405_not_501(registry_url: str, method: str) -> None:
    status, allow, body = exchange(registry_url, method, "/subjects")
    assert (status, allow, body["error_code"]) == (405, "GET", 405)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/subjects/some-value", "DELETE, POST"),
        ("/config", "DELETE, GET, PUT"),
        ("/subjects/some-value/versions/1", "DELETE, GET"),
        ("/schemas/ids/1", "GET"),
    ],
)
def test_405_names_the_allowed_methods(registry_url: str, path: str, allowed: str) -> None:
    status, allow, body = exchange(registry_url, "PATCH", path)
    assert (status, allow) == (405, allowed)
    assert body == {"error_code": 405, "message": f"HTTP 405 Method Not Allowed: PATCH {path}"}


def test_an_unknown_method_is_still_501(registry_url: str) -> None:
    # RFC 9110: 501 is the answer to a method the server does not recognise at all.
    status, allow, body = exchange(registry_url, "BREW", "/subjects")
    assert (status, allow, body["error_code"]) == (501, None, 501)


# --- found while probing the registry for what fuzzing could not generate ---------------------


def test_deeply_nested_body_is_400(registry_url: str, subject: str) -> None:
    status, body = call(registry_url, "POST", f"/subjects/{subject}/versions", DEEP_JSON)
    assert status == 400
    assert body == {"error_code": 400, "message": "The request body nests too deeply to be read"}
    assert call(registry_url, "GET", f"/subjects/{subject}/versions")[0] == 404


@pytest.mark.parametrize("schema", ["[" * 5000 + "]" * 5000, deep_arrays(450)])
def test_deeply_nested_schema_is_42201(registry_url: str, subject: str, schema: str) -> None:
    for path in (f"/subjects/{subject}/versions", f"/compatibility/subjects/{subject}/versions"):
        status, body = call(registry_url, "POST", path, {"schema": schema})
        assert (status, body["error_code"]) == (422, 42201), body
        assert body["message"] == "Invalid schema: it nests too deeply to be parsed"
    assert call(registry_url, "GET", f"/subjects/{subject}/versions")[0] == 404


def test_lone_surrogate_in_schema_is_42201(registry_url: str, subject: str) -> None:
    raw = json.dumps({"schema": with_lone_surrogate()}).encode()
    for path in (f"/subjects/{subject}/versions", f"/subjects/{subject}"):
        status, body = call(registry_url, "POST", path, raw)
        assert (status, body["error_code"]) == (422, 42201), body
        assert "lone surrogate" in body["message"]
    assert call(registry_url, "GET", f"/subjects/{subject}/versions")[0] == 404


def test_lone_surrogate_in_reference_is_422(registry_url: str, subject: str) -> None:
    base = subject + "-base"
    register(registry_url, base, record("RegAddress", field("city", "string")))
    refs = [{"name": "\udc00", "subject": base, "version": 1}]
    raw = json.dumps({"schema": record("RegUser", field("a", "RegAddress")), "references": refs})
    status, body = call(registry_url, "POST", f"/subjects/{subject}/versions", raw.encode())
    assert (status, body["error_code"]) == (422, 422), body
    assert "lone surrogate" in body["message"]
    assert call(registry_url, "GET", f"/subjects/{subject}/versions")[0] == 404


def test_a_nested_schema_that_fits_still_registers(registry_url: str, subject: str) -> None:
    assert register(registry_url, subject, deep_arrays(100))["version"] == 1


# --- the same rules without a broker ---------------------------------------------------------


def test_parse_refuses_runaway_nesting_as_invalid_schema() -> None:
    with pytest.raises(InvalidSchema, match="nests too deeply"):
        parse_avro(deep_arrays(1000))
    with pytest.raises(InvalidSchema, match="nests too deeply"):
        parse_avro("[" * 100_000)


def test_wire_refuses_lone_surrogates() -> None:
    with pytest.raises(InvalidSchema, match="lone surrogate"):
        schema_request({"schema": with_lone_surrogate()})
    refs = [{"name": "A", "subject": "s\udfff", "version": 1}]
    with pytest.raises(Unprocessable, match="lone surrogate"):
        schema_request({"schema": '"string"', "references": refs})
    assert schema_request({"schema": '{"type": "string", "doc": "\\ud800"}'}).schema_type == "AVRO"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/no/such/path"), ("PUT", "/schemas/types"), ("POST", "/subjects")],
)
def test_a_body_refused_before_it_is_read_does_not_poison_a_kept_alive_connection(
    registry_url: str, method: str, path: str
) -> None:
    """404 and 405 come before the body is read: the next request must still be answered."""
    parts = urlsplit(registry_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        body = json.dumps({"schema": '{"type": "string"}'})
        conn.request(method, path, body, {"Content-Type": "application/json"})
        first = conn.getresponse()
        first.read()
        assert first.status in (404, 405)
        assert first.getheader("Connection") == "close"
        conn.request("GET", "/subjects")  # http.client reconnects after Connection: close
        second = conn.getresponse()
        assert second.status == 200
        assert isinstance(json.loads(second.read()), list)
    finally:
        conn.close()
