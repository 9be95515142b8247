"""Bytes for the browser: a packet's files (one, or all as a zip) and the UI's assets."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from importlib import resources

from outpack.errors import NotFoundError
from outpack.server.responses import FileResponse, Response, StreamResponse, blocking_chunks
from outpack.server.routing import Request
from outpack.ui.data import UiData
from outpack.ui.files import content_disposition, media_type
from outpack.ui.pages import find_file
from outpack.ui.zipstream import ZipEntry, zip_chunks

# Packet files may be HTML or SVG written by anyone who can push: they are
# never run in the interface's origin, nor sniffed into something runnable.
UNTRUSTED = (
    (b"content-security-policy", b"sandbox"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"private, max-age=86400, immutable"),
)
ASSET_HEADERS = (
    (b"cache-control", b"public, max-age=3600"),
    (b"x-content-type-options", b"nosniff"),
)
ASSET_TYPES = {
    "style.css": b"text/css; charset=utf-8",
    "ui.js": b"text/javascript; charset=utf-8",
    "icon.svg": b"image/svg+xml",
}


def _asset(name: str) -> bytes:
    return (resources.files("outpack.ui") / "static" / name).read_bytes()


# Small, and read once: the package's own files, served from memory.
ASSETS = {name: (kind, _asset(name)) for name, kind in ASSET_TYPES.items()}


@dataclass
class Downloads:
    data: UiData

    async def raw(self, request: Request) -> FileResponse:
        path = request.params["path"]
        meta = await self.data.run(lambda: self.data.packet_metadata(request.params["id"]))
        file = find_file(meta, path)
        stored = self.data.file_path(file.hash)
        inline = request.query("download") is None
        return FileResponse(
            os.path.abspath(stored),
            os.stat(stored).st_size,
            (
                (b"content-type", media_type(path).encode("ascii")),
                (b"content-disposition", content_disposition(path, inline=inline)),
                *UNTRUSTED,
            ),
        )

    async def zip(self, request: Request) -> StreamResponse:
        packet_id = request.params["id"]
        meta = await self.data.run(lambda: self.data.packet_metadata(packet_id))

        def entries() -> list[ZipEntry]:
            # Every file is located before anything is sent: a missing one is
            # a 404 now, not a truncated zip later.
            return [
                ZipEntry(file.path, self.data.file_path(file.hash), file.size)
                for file in meta.files
            ]

        found = await asyncio.to_thread(entries)
        name = f"{meta.name}-{packet_id}.zip"
        return StreamResponse(
            blocking_chunks(zip_chunks(found, meta.time.start)),
            (
                (b"content-type", b"application/zip"),
                (b"content-disposition", content_disposition(name)),
                (b"x-content-type-options", b"nosniff"),
            ),
        )

    async def asset(self, request: Request) -> Response:
        found = ASSETS.get(request.params["name"])
        if found is None:
            raise NotFoundError("no such asset")
        kind, body = found
        headers = (
            (b"cache-control", b"public, max-age=3600"),
            (b"x-content-type-options", b"nosniff"),
        )
        return Response(200, body, kind, headers)
