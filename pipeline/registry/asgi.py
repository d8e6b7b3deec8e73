"""The registry as an ASGI application: Confluent's REST API over the router and routes.

Routing uses the raw path, split on '/' before percent-decoding, so a subject may hold an
encoded '/'. Reads of the in-memory state (GET) run on the event loop: they take
microseconds. Everything else (writes wait for Kafka, lookups parse Avro) runs in a thread
pool, so one slow request never holds the others. The body is read only once auth, the
route and its size are accepted, which is also when `100 Continue` goes out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.registry.auth import BasicAuth
from pipeline.registry.errors import (
    ApiError,
    BadRequest,
    LengthRequired,
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    status_and_code,
)
from pipeline.registry.operations import Registry
from pipeline.registry.router import Request, Router, parse_query
from pipeline.registry.routes import Raw

log = logging.getLogger(__name__)
CONTENT_TYPE = b"application/vnd.schemaregistry.v1+json"
READ_HEADERS = frozenset({b"authorization", b"content-length", b"transfer-encoding"})
INTERNAL_ERROR = b'{"error_code":50001,"message":"Internal server error"}'
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RegistryApp:
    """`registry` is set once the topic is replayed, before the server accepts requests."""

    def __init__(
        self, router: Router, auth: BasicAuth | None, max_body: int, workers: ThreadPoolExecutor
    ) -> None:
        self.router, self.auth, self.max_body, self.workers = router, auth, max_body, workers
        self.registry: Registry | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; nothing else is served
        # Only the headers the registry reads (decoding all of them was a tenth of a lookup).
        headers = {
            name.decode(): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in READ_HEADERS
        }
        exchange = Exchange(scope["method"], headers, receive, send)
        try:
            await self._answer(scope, exchange)
        except ApiError as exc:
            await exchange.error(exc)
        except RecursionError:
            # Input nested deeper than any check expects (a schema through its references).
            await exchange.error(Unprocessable("The request nests too deeply to be processed"))
        except Exception:
            # A bug, not bad input: the client gets a 500, the log gets the traceback.
            log.exception("%s %s failed", scope["method"], scope["raw_path"][:200])
            await exchange.reply(500, INTERNAL_ERROR)

    async def _answer(self, scope: Scope, exchange: Exchange) -> None:
        if self.auth is not None and not self.auth.allows(exchange.headers.get("authorization")):
            raise Unauthorized("Unauthorized: this registry needs HTTP basic auth")
        path = scope["raw_path"].decode("latin-1")
        handler, params = self.router.match(exchange.method, path)
        body = await exchange.body(self.max_body)
        query = parse_query(scope["query_string"].decode("latin-1"))
        request = Request(exchange.method, params, query, body)
        registry = self.registry
        assert registry is not None, "served before the registry was set"
        lock = registry.state.lock
        if exchange.method == "GET" and lock.acquire(blocking=False):
            # A read of the in-memory state is answered on the loop, unless a write holds the
            # state (its compatibility checks can take a while): it then waits in the pool,
            # so the loop goes on answering everyone else.
            try:
                result = handler(registry, request)
            finally:
                lock.release()
        else:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.workers, handler, registry, request)
        body_out = result.body if isinstance(result, Raw) else json.dumps(result).encode()
        await exchange.reply(200, body_out)


class Exchange:
    """One request's headers and body, and the one response it gets."""

    def __init__(self, method: str, headers: dict[str, str], receive: Receive, send: Send) -> None:
        self.method, self.headers = method, headers
        self._receive, self._send = receive, send
        self.close = False  # set when the connection cannot carry another request
        self.body_read = False

    async def body(self, limit: int) -> bytes:
        if self.headers.get("transfer-encoding"):
            self.close = True
            raise LengthRequired("Chunked request bodies are not supported; send Content-Length")
        raw = self.headers.get("content-length") or "0"
        try:
            length = int(raw)
        except ValueError:
            self.close = True
            raise LengthRequired(f"Content-Length {raw!r} is not a number") from None
        if length > limit:
            self.close = True  # its unread body would be taken as the next request
            raise PayloadTooLarge(f"The request body is {length} bytes; the limit is {limit} bytes")
        chunks, more = [], length > 0
        while more:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.close = True
                raise BadRequest("The client went away before sending its whole body")
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        self.body_read = True
        return b"".join(chunks)

    async def error(self, error: ApiError) -> None:
        status, code = status_and_code(error)
        if not self.body_read and self.headers.get("content-length", "0") not in ("", "0"):
            # Refused before its body was read (401, 404, 405): on a kept-alive connection
            # that body would be taken as the next request.
            self.close = True
        body = json.dumps({"error_code": code, "message": str(error)}).encode()
        extra: list[tuple[bytes, bytes]] = []
        if status == 401:
            extra.append((b"www-authenticate", b'Basic realm="schema-registry"'))
        if isinstance(error, MethodNotAllowed):
            extra.append((b"allow", ", ".join(error.allowed).encode()))
        await self.reply(status, body, extra)

    async def reply(
        self, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        headers = [(b"content-type", CONTENT_TYPE), (b"content-length", b"%d" % len(body))]
        headers += extra or []
        if self.close:
            headers.append((b"connection", b"close"))
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})
