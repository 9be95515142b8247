"""The handlers: each parses its input, calls the repository core, shapes the answer."""

from __future__ import annotations

import math
import os
from typing import Any

import orjson

from outpack.errors import FileNotFoundInStoreError, PacketNotFoundError
from outpack.hash import Hash, parse_lookup_hash
from outpack.ids import is_packet_id
from outpack.root import Root
from outpack.server.bodies import BodyFile, CachedBody
from outpack.server.bulk import FileContents, MetadataTexts
from outpack.server.errors import BadRequestError
from outpack.server.metrics import (
    HttpMetrics,
    StoreStats,
    exposition,
    process_lines,
    repository_lines,
)
from outpack.server.responses import (
    JSON,
    NULL_SUCCESS,
    OCTET_STREAM,
    PROMETHEUS,
    TEXT,
    AnyResponse,
    FileResponse,
    Response,
    json_response,
)
from outpack.server.routing import Request, Route
from outpack.server.settings import ServerSettings
from outpack.server.shared_metrics import SharedMetrics
from outpack.server.state import ServerState
from outpack.server.uploads import read_body, receive_file, run_blocking

SCHEMA_VERSION = "0.1.1"
INDEX = json_response({"schema_version": SCHEMA_VERSION})

# Checking presence is one stat per entry: long lists go to a thread so the
# event loop keeps serving other requests meanwhile.
INLINE_LOOKUPS = 256


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequestError(f"Invalid request body: not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise BadRequestError("Invalid request body: expected a JSON object")
    return value


def _string_list(body: dict[str, Any], field: str) -> list[str]:
    if field not in body:
        raise BadRequestError(f"Invalid request body: missing field '{field}'")
    value = body[field]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequestError(f"Invalid request body: '{field}' must be a list of strings")
    return value


def _known_since(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadRequestError(f"Invalid value for 'known_since': '{raw}' is not a number")
    return value


def etag_matches(header: bytes, etag: bytes) -> bool:
    """Whether an If-None-Match value names `etag` (weak comparison, as RFC 9110 asks)."""
    for candidate in header.split(b","):
        tag = candidate.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def _conditional(request: Request, cached: CachedBody | BodyFile) -> AnyResponse:
    """The cached answer (from memory or its file), or a bodiless 304 when the client has it."""
    headers = ((b"etag", cached.etag), (b"cache-control", b"no-cache"))
    known = request.header(b"if-none-match")
    if known is not None and etag_matches(known, cached.etag):
        return Response(304, b"", headers=headers)
    if isinstance(cached, BodyFile):
        return FileResponse(
            cached.path, cached.size, ((b"content-type", JSON), *headers), tail=cached.tail
        )
    return Response(200, cached.body, headers=headers)


def _packet_id(request: Request) -> str:
    """The id of the path, which must name a packet here.

    As in the reference, these routes check no format: whatever is not a
    packet here is simply not found. Only a valid id ever becomes a path.
    """
    packet_id = request.params["id"]
    if not is_packet_id(packet_id):
        raise PacketNotFoundError(packet_id)
    return packet_id


class Handlers:
    def __init__(self, root: Root, settings: ServerSettings, metrics: HttpMetrics) -> None:
        self.root = root
        self.settings = settings
        self.state = ServerState(root)
        self.metrics = metrics
        self.store_stats = StoreStats(root)
        self.shared_metrics = SharedMetrics.from_environment(metrics)
        # Set by the app once the routes (which the document describes) exist.
        self.openapi_response = Response(200, b"{}")

    def routes(self) -> list[Route]:
        return [
            Route("/", {"GET": self.index}),
            Route("/metadata/list", {"GET": self.metadata_list}),
            Route("/metadata/{id}/json", {"GET": self.metadata_json}),
            Route("/metadata/{id}/text", {"GET": self.metadata_text}),
            Route("/metadata/texts", {"POST": MetadataTexts(self.root, self.settings)}),
            Route("/files/contents", {"POST": FileContents(self.root, self.settings)}),
            Route("/checksum", {"GET": self.checksum}),
            Route("/packit/metadata", {"GET": self.packit_metadata}),
            Route("/file/{hash}", {"GET": self.file_get, "POST": self.file_post}),
            Route("/packets/missing", {"POST": self.packets_missing}),
            Route("/files/missing", {"POST": self.files_missing}),
            Route("/packet/{hash}", {"POST": self.packet_post}),
            Route("/metrics", {"GET": self.metrics_get}),
            Route("/openapi.json", {"GET": self.openapi}),
        ]

    # -- reading --------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return INDEX

    async def metadata_list(self, request: Request) -> AnyResponse:
        return _conditional(request, await self.state.metadata_list_body())

    async def metadata_json(self, request: Request) -> Response:
        return Response(200, self.state.metadata_json_body(_packet_id(request)))

    async def metadata_text(self, request: Request) -> Response:
        return Response(200, self.state.metadata_text(_packet_id(request)), TEXT)

    async def checksum(self, request: Request) -> AnyResponse:
        return _conditional(request, await self.state.checksum_body(request.query("alg")))

    async def packit_metadata(self, request: Request) -> AnyResponse:
        known_since = _known_since(request.query("known_since"))
        if known_since is None:
            return _conditional(request, await self.state.packit_body())
        return _conditional(request, await self.state.packit_since(known_since))

    async def file_get(self, request: Request) -> FileResponse:
        text = request.params["hash"]
        file_hash = parse_lookup_hash(text)
        if file_hash is None or not self.root.store.exists(file_hash):
            # Named as the client wrote it, as the reference does.
            raise FileNotFoundInStoreError(text)
        text = text.strip()
        path = self.root.store.path(file_hash)
        size = os.stat(path).st_size
        return FileResponse(
            # ASGI's pathsend wants an absolute path.
            os.path.abspath(path),
            size,
            (
                (b"content-type", OCTET_STREAM),
                (b"content-disposition", f'attachment; filename="{text}"'.encode("ascii")),
            ),
        )

    async def packets_missing(self, request: Request) -> Response:
        body = _json_object(await read_body(request, self.settings.max_body_size))
        ids = _string_list(body, "ids")
        if "unpacked" not in body:
            raise BadRequestError("Invalid request body: missing field 'unpacked'")
        unpacked = body["unpacked"]
        if not isinstance(unpacked, bool):
            raise BadRequestError("Invalid request body: 'unpacked' must be true or false")
        if len(ids) <= INLINE_LOOKUPS:
            return json_response(self.root.missing_packets(ids, unpacked=unpacked))
        missing = await run_blocking(lambda: self.root.missing_packets(ids, unpacked=unpacked))
        return json_response(missing)

    async def files_missing(self, request: Request) -> Response:
        body = _json_object(await read_body(request, self.settings.max_body_size))
        hashes = _string_list(body, "hashes")
        if len(hashes) <= INLINE_LOOKUPS:
            return json_response(self.root.missing_files(hashes))
        return json_response(await run_blocking(lambda: self.root.missing_files(hashes)))

    async def metrics_get(self, request: Request) -> Response:
        view = await self.state.fresh()
        files, size = await run_blocking(self.store_stats.totals)
        http = await run_blocking(self.shared_metrics.combined)
        body = exposition(
            (
                repository_lines(len(view.ids), view.unpacked, files, size, view.damaged),
                http.render(),
                process_lines(),
            )
        )
        return Response(200, body, PROMETHEUS)

    async def openapi(self, request: Request) -> Response:
        return self.openapi_response

    # -- writing --------------------------------------------------------------

    async def file_post(self, request: Request) -> Response:
        expected = Hash.parse(request.params["hash"])
        await receive_file(request, self.root.store, expected)
        return NULL_SUCCESS

    async def packet_post(self, request: Request) -> Response:
        expected = Hash.parse(request.params["hash"])
        data = await read_body(request, self.settings.max_body_size)
        await run_blocking(lambda: self.root.import_packet(data, expected))
        return NULL_SUCCESS
