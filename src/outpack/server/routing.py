"""Requests as handlers see them, and the table that maps paths to handlers.

Matching works on the raw (still percent-encoded) path, one segment at a
time, and decodes each segment separately: an encoded `%2F` therefore stays
inside its segment, where id and hash validation reject it, and can never
make a path reach a different route or a different folder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote

from outpack.server.errors import IncompleteBodyError
from outpack.server.responses import AnyResponse

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Request:
    __slots__ = (
        "_query",
        "body_consumed",
        "params",
        "receive",
        "received",
        "request_id",
        "scope",
    )

    def __init__(
        self, scope: Scope, receive: Receive, params: dict[str, str], request_id: bytes
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.params = params
        self.request_id = request_id
        self.body_consumed = False
        self.received = 0
        self._query: dict[str, str] | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header; `name` must be lower case."""
        for key, value in self.scope["headers"]:
            if key == name:
                result: bytes = value
                return result
        return None

    def query(self, name: str) -> str | None:
        """The first value of a query parameter (Packit drops query strings; others don't)."""
        if self._query is None:
            raw = self.scope.get("query_string", b"")
            if not raw:
                return None
            text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
            self._query = {}
            for key, value in parse_qsl(text, keep_blank_values=True):
                self._query.setdefault(key, value)
        return self._query.get(name)

    async def receive_chunk(self) -> tuple[bytes, bool]:
        """The next piece of the body, and whether more follows.

        Once the last piece has been seen, this returns `(b"", False)` without
        waiting: servers block a `receive` after the body until the client
        disconnects, which would stall the response. A body cut short (the
        client closed its side, or the whole connection) raises
        IncompleteBodyError.
        """
        if self.body_consumed:
            return b"", False
        message = await self.receive()
        if message["type"] == "http.disconnect":
            # Nothing more will come: the request cannot be completed.
            self.body_consumed = True
            raise IncompleteBodyError(self.received, self.content_length())
        more = bool(message.get("more_body", False))
        if not more:
            self.body_consumed = True
        chunk: bytes = message.get("body", b"")
        self.received += len(chunk)
        return chunk, more

    def content_length(self) -> int | None:
        value = self.header(b"content-length")
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return None


Handler = Callable[[Request], Awaitable[AnyResponse]]


@dataclass(frozen=True)
class Route:
    """One path pattern, with `{name}` placeholders for whole segments."""

    pattern: str
    methods: Mapping[str, Handler]
    summary: str = ""
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.pattern.split("/")[1:]))

    @property
    def is_static(self) -> bool:
        return not any(segment.startswith("{") for segment in self.segments)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.segments):
            return None
        params = {}
        for expected, actual in zip(self.segments, segments, strict=True):
            if expected.startswith("{"):
                if not actual:
                    return None
                params[expected[1:-1]] = unquote(actual) if "%" in actual else actual
            elif expected != actual:
                return None
        return params


def with_head(route: Route) -> Route:
    """The route, answering HEAD wherever it answers GET.

    The GET handler answers; the app then sends its status and headers
    (Content-Length, ETag, a 304 included) without the body.
    """
    if "GET" not in route.methods or "HEAD" in route.methods:
        return route
    methods: dict[str, Handler] = {}
    for name, handler in route.methods.items():
        methods[name] = handler
        if name == "GET":
            methods["HEAD"] = handler
    return replace(route, methods=methods)


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(with_head(route) for route in routes)
        self._static = {route.pattern: route for route in self.routes if route.is_static}
        # Dynamic routes indexed by (segment count, first segment), so a path
        # is compared with the one or two patterns that could match it.
        self._dynamic: dict[tuple[int, str], list[Route]] = {}
        for route in self.routes:
            if not route.is_static:
                if route.segments[0].startswith("{"):
                    raise ValueError(f"{route.pattern}: the first segment must be fixed")
                key = (len(route.segments), route.segments[0])
                self._dynamic.setdefault(key, []).append(route)

    def match(self, raw_path: str) -> Match | None:
        route = self._static.get(raw_path)
        if route is not None:
            return Match(route, {})
        segments = raw_path.split("/")[1:]
        if not segments:
            return None
        for route in self._dynamic.get((len(segments), segments[0]), ()):
            params = route.match(segments)
            if params is not None:
                return Match(route, params)
        return None
