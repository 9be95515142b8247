"""The ASGI application: routing, the error envelope, request ids, metrics, access log.

A hand-written ASGI callable rather than a framework: the per-request work
is a dictionary lookup, a handler call and two `send`s, which is what keeps
the small routes fast (see benchmarks/server_bench.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time

import orjson

from outpack.root import Root
from outpack.server.access_log import AccessLog
from outpack.server.auth import AccessDenied, AccessPolicy, load_token_file
from outpack.server.errors import (
    ForbiddenError,
    IncompleteBodyError,
    MethodNotAllowedError,
    RequestTimeoutError,
    RouteNotFoundError,
    UnauthorizedError,
    classify,
)
from outpack.server.memory import release_large_blocks_to_the_system
from outpack.server.metrics import HttpMetrics, method_label
from outpack.server.openapi import openapi_document
from outpack.server.parent_watch import watch_supervisor_from_environment
from outpack.server.responses import (
    AnyResponse,
    FileResponse,
    Response,
    StreamResponse,
    failure_response,
)
from outpack.server.routes import Handlers
from outpack.server.routing import Match, Message, Receive, Request, Router, Scope, Send
from outpack.server.settings import ServerSettings
from outpack.server.uploads import drain_body
from outpack.ui import UserInterface

logger = logging.getLogger("outpack.server")

UNMATCHED = "unmatched"
FILE_CHUNK = 1 << 20
PATHSEND = "http.response.pathsend"
MAX_REQUEST_ID = 200


# Request ids need to be unique, not unpredictable: os.urandom costs a system
# call (about 10 µs here) per request, the Mersenne Twister a few hundred ns.
# The generator is re-seeded in each forked worker so workers never share ids.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID_SET = (0x4 << 76) | (0x2 << 62)


def new_request_id() -> bytes:
    """A random (version 4) UUID."""
    text = f"{(_ids.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}".encode("ascii")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client's x-request-id if it is sane to echo back, else a fresh UUID."""
    for key, value in headers:
        if key == b"x-request-id":
            if 0 < len(value) <= MAX_REQUEST_ID and all(0x21 <= c <= 0x7E for c in value):
                return bytes(value)
            break
    return new_request_id()


class OutpackApp:
    def __init__(
        self, root: Root, settings: ServerSettings, access_log: AccessLog | None = None
    ) -> None:
        self.root = root
        self.settings = settings
        self.metrics = HttpMetrics()
        self.handlers = Handlers(root, settings, self.metrics)
        self.policy = access_policy(settings)
        interface = UserInterface(root, self.handlers.state, self.policy)
        self.ui = interface if settings.ui else None
        api = self.handlers.routes() + interface.api_routes()
        routes = api + (interface.routes() if self.ui else [])
        self.openapi = openapi_document((route.pattern for route in api), ui=settings.ui)
        self.handlers.openapi_response = Response(200, orjson.dumps(self.openapi))
        self.router = Router(routes)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Each worker process loads its state in the background once started
        # (requests meanwhile wait only if they need it), and saves the
        # catalog snapshot on the way out if it is the process that saves it.
        loading: asyncio.Task[None] | None = None
        sharing: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                loading = asyncio.create_task(self.handlers.state.startup())
                # Other workers add this one's counts to the scrapes they answer.
                sharing = asyncio.create_task(self.handlers.shared_metrics.keep_published())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if sharing is not None:
                    sharing.cancel()
                if loading is not None:
                    await asyncio.gather(loading, return_exceptions=True)
                await self.handlers.state.shutdown()
                await asyncio.to_thread(self.handlers.shared_metrics.publish)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else str(scope["path"])
        request_id = request_id_from(scope["headers"])
        match = self.router.match(path)
        endpoint = match.route.pattern if match is not None else UNMATCHED
        label = method_label(method)
        self.metrics.begin(endpoint, label)
        status = 500
        sent = 0
        try:
            timed = _timed_receive(receive, self.settings.body_timeout)
            request = Request(scope, timed, match.params if match else {}, request_id)
            response = await self._respond(request, match)
            status = response.status
            sent = await self._send(scope, send, response, request_id)
        except Exception:
            # `_respond` turns every error into an answer (a body cut short
            # included), so only sending can fail here: the response had
            # started, or the connection is gone, and only the log hears of it.
            logger.exception("Failed to send a response (request id %s)", request_id.decode())
        finally:
            duration = time.perf_counter() - started
            self.metrics.end(endpoint, label, status, duration)
            if self.access_log is not None:
                client = scope.get("client")
                self.access_log.record(
                    method=method,
                    route=endpoint,
                    path=path,
                    status=status,
                    duration=duration,
                    request_id=request_id.decode("ascii"),
                    sent=sent,
                    client=client[0] if client else None,
                )

    async def _respond(self, request: Request, match: Match | None) -> AnyResponse:
        try:
            if self.policy.enabled:
                self._authorize(request)
            if match is None:
                raise RouteNotFoundError()
            handler = match.route.methods.get(request.method)
            if handler is None:
                raise MethodNotAllowedError(request.method, tuple(match.route.methods))
            return await handler(request)
        except Exception as err:
            info = classify(err)
            if info.unexpected:
                logger.error(
                    "Unexpected error (request id %s)", request.request_id.decode(), exc_info=err
                )
            elif isinstance(err, IncompleteBodyError):
                logger.warning(
                    "%s %s: %s; refused, nothing stored (request id %s)",
                    request.method,
                    self._path(request),
                    err.detail,
                    request.request_id.decode(),
                )
            if not isinstance(err, RequestTimeoutError):
                # Read what the client is still sending, so that it gets to
                # read the answer instead of a reset connection (a stalled
                # client would only stall us again).
                await drain_body(request, self.settings.max_body_size)
            path = self._path(request)
            if self.ui is not None and self.ui.owns(path):
                return self.ui.failure(request, path, err)
            return failure_response(info.status, info.error, info.detail, info.headers)

    def _authorize(self, request: Request) -> None:
        # Only the verdict leaves this method: the token itself is never
        # logged nor echoed, and the access log records no headers.
        try:
            self.policy.check(request.method, self._path(request), request.scope["headers"])
        except AccessDenied as denied:
            if denied.status == 401:
                raise UnauthorizedError(denied.detail) from None
            raise ForbiddenError(denied.detail) from None

    @staticmethod
    def _path(request: Request) -> str:
        raw = request.scope.get("raw_path")
        return raw.decode("latin-1") if raw else str(request.scope["path"])

    @staticmethod
    async def _send(scope: Scope, send: Send, response: AnyResponse, request_id: bytes) -> int:
        head = scope["method"] == "HEAD"
        if isinstance(response, FileResponse):
            return await _send_file(scope, send, response, request_id, head=head)
        if isinstance(response, StreamResponse):
            return await _send_stream(send, response, request_id, head=head)
        body = response.body
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"x-request-id", request_id),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if head:
            # The headers of the GET, Content-Length included; no body.
            body = b""
        await send({"type": "http.response.body", "body": body})
        return len(body)


def _timed_receive(receive: Receive, seconds: float) -> Receive:
    """`receive`, giving up (408) when the client sends nothing for `seconds`."""

    async def timed() -> Message:
        try:
            return await asyncio.wait_for(receive(), seconds)
        except asyncio.TimeoutError:
            raise RequestTimeoutError(seconds) from None

    return timed


def access_policy(settings: ServerSettings) -> AccessPolicy:
    """The policy the settings describe; the token file is read here, in each worker."""
    tokens = load_token_file(settings.token_file) if settings.token_file else []
    return AccessPolicy(read_only=settings.read_only, tokens=tuple(tokens))


async def _send_file(
    scope: Scope, send: Send, response: FileResponse, request_id: bytes, *, head: bool
) -> int:
    headers = [
        *response.headers,
        (b"content-length", str(response.size).encode("ascii")),
        (b"x-request-id", request_id),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if head:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return 0
    if PATHSEND in scope.get("extensions", {}) and not response.tail:
        # The server sends the file itself, without it passing through Python.
        await send({"type": PATHSEND, "path": response.path})
        return response.size
    sent = 0
    file_part = response.size - len(response.tail)
    with open(response.path, "rb") as stream:
        while sent < file_part:
            chunk = stream.read(min(FILE_CHUNK, file_part - sent))
            if not chunk:
                break
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    if response.tail and sent == file_part:
        for chunk in response.tail.chunks(FILE_CHUNK):
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return sent


async def _send_stream(
    send: Send, response: StreamResponse, request_id: bytes, *, head: bool
) -> int:
    headers = [*response.headers, (b"x-request-id", request_id)]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if head:
        # The chunks are made as they are asked for: none are.
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return 0
    sent = 0
    async for chunk in response.chunks:
        if chunk:
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return sent


def create_app(settings: ServerSettings, access_log: AccessLog | None = None) -> OutpackApp:
    return OutpackApp(Root.open(settings.root), settings, access_log)


def app_from_environment() -> OutpackApp:
    """Factory for granian (or any ASGI server): settings come from the environment."""
    settings = ServerSettings.from_environment()
    release_large_blocks_to_the_system()
    # In a worker of `outpack start-server`: exit if the supervisor dies.
    watch_supervisor_from_environment()
    return create_app(settings, AccessLog() if settings.access_log else None)
