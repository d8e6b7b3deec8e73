"""The HTTP side under clients that are slow, many, or not who they say.

Slow clients cannot hold the registry: request headers must arrive within a deadline
(trickling a byte at a time does not extend it), and the open connections are capped, so
thousands of them neither exhaust the process nor keep a real client out for longer than
the deadline. With basic auth, a client that asks `Expect: 100-continue` is refused before
it is invited to send its body.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil
import pytest

from pipeline.registry.server import RegistryServer
from tests.registry.helpers import call, own_server

HEADER_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 64
PARTIAL = b"GET /subjects HTTP/1.1\r\nHost: registry\r\nX-Slow: "


@pytest.fixture(scope="module")
def limited(kafka_bootstrap: str) -> Iterator[RegistryServer]:
    with own_server(
        kafka_bootstrap, header_timeout_s=HEADER_TIMEOUT_S, max_connections=MAX_CONNECTIONS
    ) as server:
        yield server


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def closed_by_server(sock: socket.socket) -> bool:
    """True if the server has closed the connection (EOF or reset), reading what it sent."""
    sock.setblocking(False)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def held_by_server(port: int) -> int:
    """Connections this process (where the registry serves) has accepted on `port`."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def open_slow(url: str, count: int) -> list[socket.socket]:
    """`count` connections that each send half a request and stop; refused ones skipped."""
    opened = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(5)
        try:
            sock.connect(address(url))
            sock.sendall(PARTIAL)
        except OSError:
            sock.close()
            continue
        opened.append(sock)
    return opened


def served(url: str) -> bool:
    try:
        return call(url, "GET", "/subjects")[0] == 200
    except OSError:
        return False


def test_a_trickling_client_is_cut_off_at_the_header_deadline(limited: RegistryServer) -> None:
    with socket.create_connection(address(limited.url), timeout=5) as sock:
        sock.sendall(PARTIAL)
        began = time.monotonic()
        cut = False
        # One byte every 0.2 s would keep a per-read timeout alive forever.
        while time.monotonic() - began < HEADER_TIMEOUT_S + 8:
            try:
                sock.sendall(b"x")
            except OSError:
                cut = True
                break
            if closed_by_server(sock):
                cut = True
                break
            sock.setblocking(True)
            time.sleep(0.2)
        assert cut, f"still connected {time.monotonic() - began:.0f} s into its headers"
        assert time.monotonic() - began < HEADER_TIMEOUT_S + 5


def test_thousands_of_slow_connections_do_not_exhaust_the_registry(
    limited: RegistryServer,
) -> None:
    url = limited.url
    port = address(url)[1]
    slow = open_slow(url, 1500)
    try:
        held = held_by_server(port)
        assert held <= MAX_CONNECTIONS + 8, f"{held} connections held open"
        # A real client is served at the latest once the deadline has freed the slots.
        began = time.monotonic()
        while not served(url) and time.monotonic() - began < HEADER_TIMEOUT_S + 10:
            time.sleep(0.2)
        assert time.monotonic() - began < HEADER_TIMEOUT_S + 10, "no request served"
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 10
        while time.monotonic() < deadline and not all(closed_by_server(s) for s in slow):
            time.sleep(0.5)
        still_open = sum(1 for s in slow if not closed_by_server(s))
        assert still_open == 0, f"{still_open} slow connections still open"
    finally:
        for sock in slow:
            sock.close()
    assert served(url)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def guarded(kafka_bootstrap: str) -> Iterator[RegistryServer]:
    users = {"alice": "wonderland", "bob": "builder"}
    with own_server(kafka_bootstrap, basic_auth=users) as server:
        yield server


def first_answer(url: str, authorization: str) -> bytes:
    """What the registry sends first to a POST that waits for `100 Continue`."""
    head = (
        "POST /subjects/guarded-value/versions HTTP/1.1\r\nHost: registry\r\n"
        f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
        "Content-Length: 16\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(address(url), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536)


def test_a_wrong_password_is_refused_before_100_continue(guarded: RegistryServer) -> None:
    answer = first_answer(guarded.url, basic("bob", "wrong"))
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]
    assert b"100 Continue" not in answer
    answer = first_answer(guarded.url, basic("bob", "builder"))
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n"), answer[:80]


def test_every_user_is_checked_and_unknown_ones_refused(guarded: RegistryServer) -> None:
    for user, password in (("alice", "wonderland"), ("bob", "builder")):
        status, _ = call(
            guarded.url, "GET", "/subjects", headers={"Authorization": basic(user, password)}
        )
        assert status == 200
    for header in (basic("alice", "builder"), basic("carol", "x"), "Bearer abc", ""):
        status, body = call(guarded.url, "GET", "/subjects", headers={"Authorization": header})
        assert (status, body["error_code"]) == (401, 401)


def test_a_huge_request_head_is_431(limited: RegistryServer) -> None:
    head = b"GET /subjects HTTP/1.1\r\nHost: registry\r\nX-Big: " + b"x" * 70_000 + b"\r\n\r\n"
    with socket.create_connection(address(limited.url), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 ") and b'"error_code": 431' in answer, answer[:200]
    assert served(limited.url)
