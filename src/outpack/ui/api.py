"""`GET /search`: the browser's search for programs, as JSON summaries.

Portals and scripts can filter packets here instead of copying every
metadata document to filter it themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.server.errors import INVALID_INPUT, BadRequestError
from outpack.server.responses import JSON, Response, json_response
from outpack.server.routing import Request
from outpack.ui.data import UiData

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 1000


def _whole(request: Request, name: str, default: int, upper: int) -> int:
    raw = request.query(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= upper:
        raise BadRequestError(f"Invalid value for '{name}': expected a whole number 1..{upper}")
    return value


def parse_failure(err: QueryParseError) -> Response:
    """400, with the parser's message and where in the query it stopped."""
    error: dict[str, Any] = {"error": INVALID_INPUT, "detail": err.message}
    if err.position is not None:
        error["position"] = {"offset": err.position, "line": err.line, "column": err.column}
    body = orjson.dumps({"status": "failure", "data": None, "errors": [error]})
    return Response(400, body, JSON)


@dataclass
class SearchApi:
    data: UiData

    async def search(self, request: Request) -> Response:
        query = request.query("query") or ""
        page = _whole(request, "page", 1, 1 << 30)
        per_page = _whole(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)

        def gather() -> tuple[int, list[dict[str, Any]]]:
            found = self.data.search(query, (page - 1) * per_page, per_page, words=False)
            described = self.data.described(found.ids)
            index = self.data.index()
            packets = [
                {
                    "id": packet_id,
                    "name": index.names[packet_id],
                    "parameters": dict(index.parameters[packet_id]) or None,
                    "time": {"start": self.data.start(packet_id), "end": self.data.end(packet_id)},
                    "display": described[packet_id].display,
                }
                for packet_id in found.ids
            ]
            return found.total, packets

        try:
            total, packets = await self.data.run(gather)
        except QueryParseError as err:
            return parse_failure(err)
        except QueryEvaluationError as err:
            raise BadRequestError(f"Failed to evaluate query: {err.message}") from err
        return json_response(
            {
                "query": query,
                "total": total,
                "page": page,
                "per_page": per_page,
                "packets": packets,
            }
        )
