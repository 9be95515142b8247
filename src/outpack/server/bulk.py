"""`POST /metadata/texts`: many packets' exact metadata bytes in one answer.

Body `{"ids": [id, ...]}` (at most MAX_IDS); the answer, not enveloped, is
one frame per id in the order asked (see `outpack.metadata_texts`):
`<id> <length>\\n<bytes>\\n`. Clients check each text against the hash from
`/metadata/list`, exactly as with `GET /metadata/<id>/text`, which this
route saves them calling once per packet. An id that is malformed is a 400,
one not here a 404 (like the single-packet route); nothing partial is sent.
"""

from __future__ import annotations

import orjson

from outpack.ids import validate_packet_id
from outpack.metadata_texts import MEDIA_TYPE, frame_texts
from outpack.root import Root
from outpack.server.errors import BadRequestError
from outpack.server.responses import Response
from outpack.server.routing import Request
from outpack.server.settings import ServerSettings
from outpack.server.uploads import read_body, run_blocking

MAX_IDS = 10_000
CONTENT_TYPE = MEDIA_TYPE.encode("ascii")


def requested_ids(body: bytes) -> list[str]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequestError(f"Invalid request body: not valid JSON ({err})") from err
    ids = document.get("ids") if isinstance(document, dict) else None
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise BadRequestError('Invalid request body: expected {"ids": [packet ids]}')
    if len(ids) > MAX_IDS:
        raise BadRequestError(f"Invalid request body: at most {MAX_IDS} ids per request")
    return [validate_packet_id(item) for item in ids]


class MetadataTexts:
    """The handler (a callable, so the route table needs one line for it)."""

    def __init__(self, root: Root, settings: ServerSettings) -> None:
        self.root = root
        self.settings = settings

    async def __call__(self, request: Request) -> Response:
        ids = requested_ids(await read_body(request, self.settings.max_body_size))
        read = self.root.read_metadata_bytes
        body = await run_blocking(lambda: frame_texts((i, read(i)) for i in ids))
        return Response(200, body, CONTENT_TYPE)
