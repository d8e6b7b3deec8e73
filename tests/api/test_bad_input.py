"""Bad input gets a 4xx with a JSON body naming the problem, never a 500 or a hang."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import ApiUnderTest, new_order


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (b'{"user_id": "u1", ', 400, "not valid JSON"),
        (b"[1, 2]", 422, "body"),
        (b'{"user_id": "u1", "colour": "red"}', 422, "body.colour: unknown field"),
        (b'{"source": "WEB"}', 422, "body.user_id: required"),
        (b'{"user_id": "u1", "source": "FAX"}', 422, "body.source"),
        (b'{"user_id": "u1", "amount": -3}', 422, "body.amount"),
        (b'{"user_id": "u1", "currency": "euro"}', 422, "body.currency"),
    ],
)
def test_a_bad_order_names_its_problem(
    pipeline_under_api: ApiUnderTest, body: bytes, status: int, named: str
) -> None:
    answer = pipeline_under_api.http.post(
        "/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert named in answer.json()["error"]


def test_a_bad_status_names_the_allowed_ones(pipeline_under_api: ApiUnderTest) -> None:
    placed = new_order(pipeline_under_api.http)
    answer = pipeline_under_api.http.post(
        f"/orders/{placed['order_id']}/status", json={"status": "LOST"}
    )
    assert answer.status_code == 422
    assert "body.status" in answer.json()["error"] and "CANCELLED" in answer.json()["error"]
    placed_again = pipeline_under_api.http.post(
        f"/orders/{placed['order_id']}/status", json={"status": "PLACED"}
    )
    assert placed_again.status_code == 422


def test_a_huge_body_is_refused_before_it_is_read(pipeline_under_api: ApiUnderTest) -> None:
    huge = json.dumps({"user_id": "u" * 2_000_000}).encode()
    answer = pipeline_under_api.http.post(
        "/orders", content=huge, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert "too large" in answer.json()["error"]


def test_a_huge_chunked_body_is_refused_too(pipeline_under_api: ApiUnderTest) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        for _ in range(100):
            yield b"x" * 10_000

    answer = pipeline_under_api.http.post(
        "/orders", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413


def _raw(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_client_sending_its_headers_too_slowly_gets_408(
    pipeline_under_api: ApiUnderTest,
) -> None:
    with _raw(pipeline_under_api.url) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        began = time.monotonic()
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"headers did not arrive" in answer
    assert time.monotonic() - began < 20


def test_a_client_sending_its_body_too_slowly_gets_408(pipeline_under_api: ApiUnderTest) -> None:
    with _raw(pipeline_under_api.url) as sock:
        sock.sendall(
            b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"user_id"'
        )
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"body did not arrive" in answer


def test_unknown_paths_and_methods_answer_in_json(pipeline_under_api: ApiUnderTest) -> None:
    http = pipeline_under_api.http
    assert http.get("/nowhere").json() == {"error": "Not Found"}
    wrong = http.delete("/orders")
    assert wrong.status_code == 405 and "error" in wrong.json()
    bad_cursor = http.get("/orders", params={"cursor": "!!not-a-cursor!!"})
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["error"]
    bad_limit = http.get("/orders", params={"limit": 0})
    assert bad_limit.status_code == 422 and "query.limit" in bad_limit.json()["error"]
    bad_id = http.get(f"/orders/{uuid.uuid4()}zz")
    assert bad_id.status_code == 422
