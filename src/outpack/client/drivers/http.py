"""An `http` location: an outpack server (ours, the Rust one, or Packit's proxy).

Metadata comes from our server's bulk route `POST /metadata/texts` when it
has one (detected on first use; a 404, 405 or 403 answer means it has not, or
may not, and we fall back to one `GET /metadata/<id>/text` per packet).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from outpack.client.drivers.base import Begin, RemoteEntry
from outpack.client.drivers.session import Session
from outpack.errors import RemoteError
from outpack.hash import CHUNK_SIZE
from outpack.metadata_texts import split_texts

BULK_ROUTE = "metadata/texts"
NO_BULK = frozenset((403, 404, 405))


class HttpDriver:
    def __init__(self, session: Session, jobs: int = 8) -> None:
        self.session = session
        self.label = session.label
        self.jobs = jobs
        self._bulk: bool | None = None

    def close(self) -> None:
        self.session.close()

    def list_packets(self) -> list[RemoteEntry]:
        data = self.session.get_json("metadata/list")
        try:
            return [RemoteEntry(e["packet"], float(e["time"]), e["hash"]) for e in data]
        except (KeyError, TypeError, ValueError) as err:
            raise RemoteError(f"{self.label} sent a malformed packet list") from err

    def metadata_texts(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        if not ids:
            return iter(())
        if self._bulk is not False:
            try:
                texts = self._bulk_texts(ids)
                self._bulk = True
                return iter(texts)
            except RemoteError as err:
                if self._bulk or err.status not in NO_BULK:
                    raise
                self._bulk = False
        with ThreadPoolExecutor(self.jobs) as pool:
            return iter(list(pool.map(self._one_text, ids)))

    def _bulk_texts(self, ids: Sequence[str]) -> list[tuple[str, bytes]]:
        body = orjson.dumps({"ids": list(ids)})
        headers = {"Content-Type": "application/json"}
        response = self.session.retrying(
            lambda: self.session.request("POST", BULK_ROUTE, body=body, headers=headers)
        )
        return split_texts(response.data, self.label)

    def _one_text(self, packet_id: str) -> tuple[str, bytes]:
        response = self.session.retrying(
            lambda: self.session.request("GET", f"metadata/{packet_id}/text")
        )
        return packet_id, response.data

    def fetch_file(self, file_hash: str, begin: Begin) -> None:
        def attempt() -> None:
            with begin() as upload:
                response = self.session.request("GET", f"file/{file_hash}", stream=True)
                try:
                    for chunk in response.stream(CHUNK_SIZE):
                        upload.write(chunk)
                finally:
                    response.release_conn()
                upload.commit()

        self.session.retrying(attempt)

    def missing_packets(self, ids: Sequence[str]) -> list[str]:
        result = self.session.post_json("packets/missing", {"ids": list(ids), "unpacked": True})
        return [str(item) for item in result]

    def missing_files(self, hashes: Sequence[str]) -> list[str]:
        result = self.session.post_json("files/missing", {"hashes": list(hashes)})
        return [str(item) for item in result]

    def push_file(self, file_hash: str, source: Path) -> None:
        def send() -> None:
            with open(source, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                }
                self.session.request("POST", f"file/{file_hash}", body=stream, headers=headers)

        self.session.retrying(send)

    def push_metadata(self, packet_hash: str, data: bytes) -> None:
        path = f"packet/{packet_hash}"
        headers = {"Content-Type": "text/plain"}
        self.session.retrying(
            lambda: self.session.request("POST", path, body=data, headers=headers)
        )
