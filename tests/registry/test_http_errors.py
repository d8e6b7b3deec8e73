"""Every error code over raw HTTP: the right status, Confluent's body, and nothing written."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.registry.helpers import call, field, record, register

GOOD = record("ErrOrder", field("id", "string"))


@pytest.fixture
def subject(unique: Callable[[str], str]) -> str:
    return unique("err") + "-value"


def expect(url: str, method: str, path: str, body: object, status: int, code: int) -> str:
    got_status, got = call(url, method, path, body)
    assert (got_status, got["error_code"]) == (status, code), got
    assert isinstance(got["message"], str) and got["message"]
    return str(got["message"])


def test_not_found_codes(registry_url: str, subject: str) -> None:
    register(registry_url, subject, GOOD)
    expect(registry_url, "GET", "/subjects/no-such-subject/versions", None, 404, 40401)
    expect(registry_url, "GET", f"/subjects/{subject}/versions/99", None, 404, 40402)
    expect(registry_url, "GET", "/schemas/ids/987654321", None, 404, 40403)
    other = record("ErrOther", field("x", "int"))
    expect(registry_url, "POST", f"/subjects/{subject}", {"schema": other}, 404, 40403)
    expect(registry_url, "GET", f"/config/{subject}", None, 404, 40408)
    expect(registry_url, "GET", f"/mode/{subject}", None, 404, 40409)


def test_delete_order_codes(registry_url: str, subject: str) -> None:
    register(registry_url, subject, GOOD)
    path = f"/subjects/{subject}"
    expect(registry_url, "DELETE", f"{path}/versions/1?permanent=true", None, 404, 40407)
    expect(registry_url, "DELETE", f"{path}?permanent=true", None, 404, 40405)
    assert call(registry_url, "DELETE", f"{path}/versions/1") == (200, 1)
    expect(registry_url, "DELETE", f"{path}/versions/1", None, 404, 40406)
    expect(registry_url, "DELETE", path, None, 404, 40404)
    assert call(registry_url, "DELETE", f"{path}?permanent=True") == (200, [1])
    expect(registry_url, "DELETE", path, None, 404, 40401)


def test_incompatible_is_409_naming_the_field(registry_url: str, subject: str) -> None:
    register(registry_url, subject, GOOD)
    breaking = record("ErrOrder", field("id", "string"), field("email", "string"))
    message = expect(
        registry_url, "POST", f"/subjects/{subject}/versions", {"schema": breaking}, 409, 409
    )
    assert "field 'email'" in message and "READER_FIELD_MISSING_DEFAULT_VALUE" in message
    assert call(registry_url, "GET", f"/subjects/{subject}/versions") == (200, [1])


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"schema": "{not json"}, 422, 42201, "not JSON"),
        ({"schema": '{"type": "record", "name": "X", "fields": 1}'}, 422, 42201, "Invalid Avro"),
        (
            {"schema": record("X", field("n", "int", default="zero"))},
            422,
            42201,
            "Invalid default for field 'n'",
        ),
        ({"schema": GOOD, "schemaType": "PROTOBUF"}, 422, 42201, "PROTOBUF"),
        ({"schema": ""}, 422, 42201, "'schema'"),
        ({"schema": GOOD, "references": "nope"}, 422, 422, "references"),
        ({"schema": GOOD, "version": 0}, 422, 42202, "'0'"),
        (b"{bad json", 400, 400, "not valid JSON"),
        (b"[1, 2]", 422, 422, "JSON object"),
        (b"", 422, 422, "empty"),
    ],
)
def test_bad_registrations_write_nothing(
    registry_url: str, subject: str, body: object, status: int, code: int, says: str
) -> None:
    message = expect(registry_url, "POST", f"/subjects/{subject}/versions", body, status, code)
    assert says in message
    expect(registry_url, "GET", f"/subjects/{subject}/versions?deleted=true", None, 404, 40401)


@pytest.mark.parametrize("version", ["0", "-2", "abc", "2147483648"])
def test_bad_versions_are_42202(registry_url: str, subject: str, version: str) -> None:
    register(registry_url, subject, GOOD)
    expect(registry_url, "GET", f"/subjects/{subject}/versions/{version}", None, 422, 42202)


def test_bad_level_and_mode(registry_url: str, subject: str) -> None:
    expect(registry_url, "PUT", f"/config/{subject}", {"compatibility": "SIDEWAYS"}, 422, 42203)
    expect(registry_url, "PUT", f"/mode/{subject}", {"mode": "SOMETIMES"}, 422, 42204)
    expect(registry_url, "GET", f"/config/{subject}", None, 404, 40408)


def test_operation_not_permitted(registry_url: str, subject: str) -> None:
    assert call(registry_url, "PUT", f"/mode/{subject}", {"mode": "READONLY"}) == (
        200,
        {"mode": "READONLY"},
    )
    body = {"schema": GOOD}
    expect(registry_url, "POST", f"/subjects/{subject}/versions", body, 422, 42205)
    call(registry_url, "PUT", f"/mode/{subject}", {"mode": "IMPORT"})
    message = expect(registry_url, "POST", f"/subjects/{subject}/versions", body, 422, 42205)
    assert "schema id is required" in message
    call(registry_url, "DELETE", f"/mode/{subject}")
    with_id = {"schema": GOOD, "id": 55555}
    expect(registry_url, "POST", f"/subjects/{subject}/versions", with_id, 422, 42205)


def test_reference_exists(registry_url: str, subject: str) -> None:
    base = subject + "-base"
    register(registry_url, base, record("ErrAddress", field("city", "string")))
    refs = [{"name": "ErrAddress", "subject": base, "version": 1}]
    register(registry_url, subject, record("ErrUser", field("a", "ErrAddress")), references=refs)
    expect(registry_url, "DELETE", f"/subjects/{base}", None, 422, 42206)
    missing = [{"name": "ErrAddress", "subject": base, "version": 9}]
    body = {"schema": record("ErrUser2", field("a", "ErrAddress")), "references": missing}
    message = expect(registry_url, "POST", f"/subjects/{subject}/versions", body, 422, 42201)
    assert "version 9" in message


def test_http_level_errors(registry_url: str, subject: str) -> None:
    expect(registry_url, "GET", "/no/such/path", None, 404, 404)
    expect(registry_url, "PATCH", "/subjects", None, 405, 405)
    expect(registry_url, "PUT", "/schemas/ids/1", None, 405, 405)
    expect(registry_url, "GET", "/subjects?deleted=maybe", None, 400, 400)
    assoc = f"/associations/resources/-/{subject}?resourceType=topic&associationType=value"
    expect(registry_url, "GET", assoc, None, 404, 404)


@pytest.mark.parametrize("flag", ["true", "True", "TRUE"])
def test_booleans_in_either_case(registry_url: str, subject: str, flag: str) -> None:
    register(registry_url, subject, GOOD)
    call(registry_url, "DELETE", f"/subjects/{subject}")
    assert call(registry_url, "GET", f"/subjects/{subject}/versions?deleted={flag}") == (200, [1])
    falsy = flag.replace("t", "f").replace("T", "F").replace("rue", "alse").replace("RUE", "ALSE")
    expect(registry_url, "GET", f"/subjects/{subject}/versions?deleted={falsy}", None, 404, 40401)


def raw_exchange(url: str, request: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_huge_and_chunked_bodies_are_refused_unread(registry_url: str, subject: str) -> None:
    head = f"POST /subjects/{subject}/versions HTTP/1.1\r\nHost: x\r\n"
    huge = raw_exchange(registry_url, f"{head}Content-Length: 50000000\r\n\r\n{{".encode())
    assert huge.startswith(b"HTTP/1.1 413 ") and b'"error_code": 413' in huge
    chunked = raw_exchange(registry_url, f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
    assert chunked.startswith(b"HTTP/1.1 411 ") and b'"error_code": 411' in chunked
    garbage = raw_exchange(registry_url, b"NONSENSE\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ") and b'"error_code": 400' in garbage
    expect(registry_url, "GET", f"/subjects/{subject}/versions", None, 404, 40401)


def test_content_types(registry_url: str, subject: str) -> None:
    for content_type in ("application/json", "application/vnd.schemaregistry+json"):
        status, body = call(
            registry_url,
            "POST",
            f"/subjects/{subject}/versions",
            {"schema": GOOD},
            headers={"Content-Type": content_type},
        )
        assert status == 200 and body["version"] == 1
    parts = urlsplit(registry_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/schemas/types")
        response = conn.getresponse()
        assert response.read() == b'["AVRO"]'
        assert response.getheader("Content-Type") == "application/vnd.schemaregistry.v1+json"
    finally:
        conn.close()
