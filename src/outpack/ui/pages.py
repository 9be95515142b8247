"""The HTML pages: home, search, packet and file; each reads through `UiData`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from outpack.errors import NotFoundError, QueryEvaluationError, QueryParseError
from outpack.metadata import PacketFile, PacketMetadata
from outpack.server.responses import Response
from outpack.server.routing import Request
from outpack.ui import graph
from outpack.ui.data import NOT_DESCRIBED, Described, NameRow, UiData
from outpack.ui.files import preview
from outpack.ui.render import page, url_segment

HOME_ROWS = 500
PAGE_SIZE = 50
LINKED = 50


def page_number(raw: str | None) -> int:
    try:
        return max(int(raw or "1"), 1)
    except ValueError:
        return 1


def find_file(meta: PacketMetadata, path: str) -> PacketFile:
    """The packet's file at exactly `path` (which therefore never reaches the disk)."""
    for file in meta.files:
        if file.path == path:
            return file
    raise NotFoundError(f"packet '{meta.id}' has no file '{path}'")


@dataclass
class Pages:
    data: UiData
    sign_out: bool

    async def home(self, request: Request) -> Response:
        wanted = (request.query("filter") or "").strip()

        def gather() -> tuple[int, list[NameRow], list[NameRow], dict[str, Described]]:
            rows = self.data.overview()
            total = sum(row.count for row in rows)
            if wanted:
                rows = [row for row in rows if wanted.lower() in row.name.lower()]
            shown = rows[:HOME_ROWS]
            return total, rows, shown, self.data.described(row.latest for row in shown)

        total, rows, shown, described = await self.data.run(gather)
        return page(
            "home.html",
            rows=shown,
            hidden=len(rows) - len(shown),
            total=total,
            described=described,
            filter=wanted,
            sign_out=self.sign_out,
        )

    async def search(self, request: Request) -> Response:
        query = request.query("q") or ""
        number = page_number(request.query("page"))

        def gather() -> dict[str, Any]:
            found = self.data.search(query, (number - 1) * PAGE_SIZE, PAGE_SIZE)
            index = self.data.index()
            return {
                "ids": found.ids,
                "total": found.total,
                "words": found.words,
                "pages": max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
                "names": {packet_id: index.names[packet_id] for packet_id in found.ids},
                "parameters": {packet_id: index.parameters[packet_id] for packet_id in found.ids},
                "starts": {packet_id: self.data.start(packet_id) for packet_id in found.ids},
                "described": self.data.described(found.ids),
            }

        try:
            shown = await self.data.run(gather)
        except QueryParseError as err:
            return page("search.html", 400, query=query, error=err.message, sign_out=self.sign_out)
        except QueryEvaluationError as err:
            message = f"Failed to evaluate query\n{err.message}"
            return page("search.html", 400, query=query, error=message, sign_out=self.sign_out)
        return page(
            "search.html",
            query=query,
            error=None,
            page=number,
            sign_out=self.sign_out,
            **shown,
        )

    async def packet(self, request: Request) -> Response:
        packet_id = request.params["id"]

        def gather() -> dict[str, Any]:
            self.data.require(packet_id)
            meta = self.data.metadata(packet_id)
            used_by = self.data.used_by(packet_id)
            layout = graph.layout(packet_id, self.data.depends_on, self.data.used_by)
            linked = {dep.packet for dep in meta.depends} | set(used_by[:LINKED])
            linked |= {node.id for node in layout.nodes}
            index = self.data.index()
            described = self.data.described([packet_id, *sorted(linked)])
            return {
                "meta": meta,
                "this": described.get(packet_id, NOT_DESCRIBED),
                "names": {i: index.names[i] for i in linked if i in index},
                "described": described,
                "inputs": {
                    f.here: (dep.packet, f.there) for dep in meta.depends for f in dep.files
                },
                "used_by": used_by[:LINKED],
                "used_by_more": max(len(used_by) - LINKED, 0),
                "graph": layout,
                "locations": self.data.locations_of(packet_id),
                "total_size": sum(file.size for file in meta.files),
            }

        shown = await self.data.run(gather)
        return page(
            "packet.html",
            search_snippet=search_snippet(packet_id),
            orderly_snippet=f"orderly2::orderly_location_pull_packet({json.dumps(packet_id)})",
            sign_out=self.sign_out,
            **shown,
        )

    async def file(self, request: Request) -> Response:
        packet_id = request.params["id"]
        path = request.params["path"]
        meta = await self.data.run(lambda: self.data.packet_metadata(packet_id))
        file = find_file(meta, path)
        try:
            stored = self.data.file_path(file.hash)
        except NotFoundError:
            shown, available = None, False
        else:
            shown, available = (
                await asyncio.to_thread(lambda: preview(path, stored, file.size)),
                True,
            )
        return page(
            "file.html",
            meta=meta,
            path=path,
            size=file.size,
            preview=shown,
            available=available,
            raw_url=f"/ui/packet/{packet_id}/raw/{url_segment(path)}",
            sign_out=self.sign_out,
        )


def search_snippet(packet_id: str) -> str:
    """The `outpack search` command that finds the packet (ids need no shell quoting)."""
    return f"outpack search --root . 'id == {json.dumps(packet_id)}'"
