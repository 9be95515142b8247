"""An `http` location: an outpack server (ours, the Rust one, or Packit's proxy).

Metadata and files come from our server's bulk routes, `POST /metadata/texts`
and `POST /files/contents`, when it has them (detected on first use of each;
a 404, 405 or 403 answer means it has not, or may not, and we fall back to
one `GET /metadata/<id>/text` per packet and one `GET /file/<hash>` per file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from outpack.client.drivers.base import Begin, BeginFile, RemoteEntry, fetch_each
from outpack.client.drivers.session import Response, Session
from outpack.errors import RemoteError
from outpack.framing import FrameReader, split_all
from outpack.hash import CHUNK_SIZE

TEXTS_ROUTE = "metadata/texts"
FILES_ROUTE = "files/contents"
NO_BULK = frozenset((403, 404, 405))
JSON_BODY = {"Content-Type": "application/json"}


class HttpDriver:
    def __init__(self, session: Session, jobs: int = 8) -> None:
        self.session = session
        self.label = session.label
        self.jobs = jobs
        # Whether the server has each bulk route: unknown until first asked.
        self._bulk_texts: bool | None = None
        self._bulk_files: bool | None = None

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
        if self._bulk_texts is not False:
            try:
                texts = self._texts_at_once(ids)
                self._bulk_texts = True
                return iter(texts)
            except RemoteError as err:
                if self._bulk_texts or err.status not in NO_BULK:
                    raise
                self._bulk_texts = False
        with ThreadPoolExecutor(self.jobs) as pool:
            return iter(list(pool.map(self._one_text, ids)))

    def _texts_at_once(self, ids: Sequence[str]) -> list[tuple[str, bytes]]:
        body = orjson.dumps({"ids": list(ids)})
        response = self.session.retrying(
            lambda: self.session.request("POST", TEXTS_ROUTE, body=body, headers=JSON_BODY)
        )
        return split_all(response.data, self.label, "metadata texts")

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

    def fetch_files(
        self, hashes: Sequence[str], begin: BeginFile, done: Callable[[str], None]
    ) -> None:
        if self._bulk_files is not False and len(hashes) > 1:
            finished: set[str] = set()

            def received(file_hash: str) -> None:
                finished.add(file_hash)
                done(file_hash)

            def attempt() -> None:
                # After a cut-off answer, only the files that did not arrive.
                rest = [file_hash for file_hash in hashes if file_hash not in finished]
                self._files_at_once(rest, begin, received)

            try:
                self.session.retrying(attempt)
                self._bulk_files = True
                return
            except RemoteError as err:
                if self._bulk_files or finished or err.status not in NO_BULK:
                    raise
                self._bulk_files = False
        fetch_each(self.fetch_file, hashes, begin, done)

    def _files_at_once(
        self, hashes: list[str], begin: BeginFile, done: Callable[[str], None]
    ) -> None:
        body = orjson.dumps({"hashes": hashes})
        response = self.session.request(
            "POST", FILES_ROUTE, body=body, headers=JSON_BODY, stream=True
        )
        try:
            _receive_files(response, self.label, hashes, begin, done)
        except BaseException:
            # Unread frames must not reach the next request on this connection.
            response.close()
            raise
        finally:
            response.release_conn()

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


def _receive_files(
    response: Response,
    label: str,
    hashes: list[str],
    begin: BeginFile,
    done: Callable[[str], None],
) -> None:
    """Store the files of a `/files/contents` answer, in the order asked, each as it arrives."""
    reader = FrameReader(response.read, label, "file contents")
    for expected in hashes:
        header = reader.header()
        if header is None or header[0] != expected:
            found = "the end of the answer" if header is None else header[0]
            raise RemoteError(f"{label} sent {found} where file {expected} was expected")
        with begin(expected) as upload:
            for piece in reader.body(header[1]):
                upload.write(piece)
            upload.commit()
        done(expected)
    if reader.header() is not None:
        raise RemoteError(f"{label} sent more files than were asked for")
