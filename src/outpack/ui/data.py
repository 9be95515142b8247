"""The one place the packet browser reads the repository from.

Everything the pages show comes through `UiData`: the packet list and the
query index (kept in memory by the server's state), and the metadata documents of
the packets a page displays (read one by one, through the server's metadata
cache). Display names live in each packet's `custom` field, which is not
kept in memory, so they are read per displayed packet and kept in a small
cache; packets are immutable, so a cached name never goes stale.

A page does its reading in one `run`: a thread that has the catalog and the
index current and unchanging (see `ServerState.with_index`).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from outpack.errors import OutpackError, PacketNotFoundError, QueryParseError
from outpack.fsutil import read_many
from outpack.hash import Hash
from outpack.ids import validate_packet_id
from outpack.metadata import PacketMetadata, parse_metadata
from outpack.query.index import QueryIndex
from outpack.query.service import IndexedCatalog, parse_search
from outpack.root import Root
from outpack.server.state import ServerState

T = TypeVar("T")

DISPLAY_CACHE_ENTRIES = 20_000
# Plain words: anything without the query language's punctuation.
_WORDS = re.compile(r"^[^()\"'=<>!&|:{}\[\]]*$")


@dataclass(frozen=True, slots=True)
class Described:
    """What a page shows about a packet besides its name: from `custom.orderly`."""

    display: str | None
    description: str | None


NOT_DESCRIBED = Described(None, None)


@dataclass(frozen=True, slots=True)
class NameRow:
    name: str
    count: int
    latest: str
    latest_start: float


@dataclass(frozen=True, slots=True)
class Found:
    """One page of search results, newest first."""

    ids: list[str]
    total: int
    words: bool


def describe(custom: object) -> Described:
    """The display name and long description orderly keeps in `custom`."""
    if not isinstance(custom, dict):
        return NOT_DESCRIBED
    orderly = custom.get("orderly")
    description = orderly.get("description") if isinstance(orderly, dict) else None
    if not isinstance(description, dict):
        return NOT_DESCRIBED
    display = description.get("display")
    long = description.get("long")
    return Described(
        display if isinstance(display, str) else None, long if isinstance(long, str) else None
    )


class _DisplayCache:
    def __init__(self, limit: int) -> None:
        self._entries: OrderedDict[str, Described] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, packet_id: str) -> Described | None:
        with self._lock:
            found = self._entries.get(packet_id)
            if found is not None:
                self._entries.move_to_end(packet_id)
            return found

    def put(self, packet_id: str, value: Described) -> None:
        with self._lock:
            self._entries[packet_id] = value
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)


class UiData:
    """Read-only access for the pages: everything is asked inside `run`."""

    def __init__(self, root: Root, state: ServerState) -> None:
        self.root = root
        self._state = state
        self._indexed: IndexedCatalog | None = None
        self._display = _DisplayCache(DISPLAY_CACHE_ENTRIES)
        self._overview: tuple[int, list[NameRow]] = (-1, [])
        self._lock = threading.Lock()
        # Display names of every packet, read on the first plain-word search,
        # and (index version, ids, lower-cased "name\ndisplay" of each).
        self._all_displays: dict[str, str] = {}
        self._words: tuple[int, list[str], list[str]] = (-1, [], [])

    async def run(self, work: Callable[[], T]) -> T:
        """`work`'s result, computed in a thread with the catalog and index current."""

        def within(indexed: IndexedCatalog) -> T:
            self._indexed = indexed
            return work()

        return await self._state.with_index(within)

    @property
    def _current(self) -> IndexedCatalog:
        if self._indexed is None:
            raise RuntimeError("the repository is read inside UiData.run only")
        return self._indexed

    def index(self) -> QueryIndex:
        return self._current.index

    # -- the list of names ---------------------------------------------------

    def overview(self) -> list[NameRow]:
        """Every packet name with its count and latest packet, names sorted."""
        index = self.index()
        with self._lock:
            version, rows = self._overview
            if version == index.version and rows:
                return rows
            rows = []
            for name, members in sorted(index.by_name.items()):
                if members:
                    latest = max(members)
                    rows.append(NameRow(name, len(members), latest, self.start(latest)))
            self._overview = (index.version, rows)
            return rows

    # -- one packet -----------------------------------------------------------

    def start(self, packet_id: str) -> float:
        summary = self._current.catalog.summary(packet_id)
        return summary.start if summary is not None else 0.0

    def end(self, packet_id: str) -> float:
        summary = self._current.catalog.summary(packet_id)
        return summary.end if summary is not None else 0.0

    def metadata_bytes(self, packet_id: str) -> bytes:
        validate_packet_id(packet_id)
        return self._state.metadata_text(packet_id)

    def metadata(self, packet_id: str) -> PacketMetadata:
        return parse_metadata(self.metadata_bytes(packet_id), f" of packet '{packet_id}'")

    def exists(self, packet_id: str) -> bool:
        return packet_id in self.index()

    def described(self, packet_ids: Iterable[str]) -> dict[str, Described]:
        """Display names and descriptions, read from each packet's metadata (cached)."""
        result: dict[str, Described] = {}
        for packet_id in packet_ids:
            found = self._display.get(packet_id)
            if found is None:
                try:
                    custom = orjson.loads(self.metadata_bytes(packet_id)).get("custom")
                except (OutpackError, orjson.JSONDecodeError, AttributeError):
                    custom = None
                found = describe(custom)
                self._display.put(packet_id, found)
            result[packet_id] = found
        return result

    def name_of(self, packet_id: str) -> str | None:
        return self.index().names.get(packet_id)

    def parameters_of(self, packet_id: str) -> dict[str, Any]:
        return dict(self.index().parameters.get(packet_id) or {})

    def depends_on(self, packet_id: str) -> tuple[str, ...]:
        return self.index().depends_on.get(packet_id, ())

    def used_by(self, packet_id: str) -> list[str]:
        return sorted(self.index().used_by.get(packet_id, ()), reverse=True)

    def locations_of(self, packet_id: str) -> list[str]:
        catalog = self._current.catalog
        return [name for name in catalog.location_names() if packet_id in catalog.records(name)]

    def file_path(self, file_hash: str) -> Path:
        """The stored file with this hash; FileNotFoundInStoreError if absent."""
        return self.root.store.locate(Hash.parse(file_hash))

    def packet_metadata(self, packet_id: str) -> PacketMetadata:
        """The metadata of a packet that exists: PacketNotFoundError otherwise."""
        return self.metadata(self.require(packet_id))

    def require(self, packet_id: str) -> str:
        validate_packet_id(packet_id)
        if not self.exists(packet_id):
            raise PacketNotFoundError(packet_id)
        return packet_id

    # -- searching ------------------------------------------------------------

    def search(self, text: str, offset: int, limit: int, *, words: bool = True) -> Found:
        """Packets matching a query, or (with `words`) plain words in names and display names."""
        text = text.strip()
        index = self.index()
        if not text:
            ids = index.sorted_ids()
            return Found(_newest(ids, offset, limit), len(ids), words=False)
        try:
            found = self._current.evaluate(parse_search(text))
        except QueryParseError:
            if not words or not _WORDS.match(text):
                raise
            found = self._word_search(index, text.lower().split())
            return Found(_newest(found, offset, limit), len(found), words=True)
        return Found(_newest(found, offset, limit), len(found), words=False)

    def _word_search(self, index: QueryIndex, words: list[str]) -> list[str]:
        ids, haystacks = self._haystacks(index)
        return [
            packet_id
            for packet_id, haystack in zip(ids, haystacks, strict=True)
            if all(word in haystack for word in words)
        ]

    def _haystacks(self, index: QueryIndex) -> tuple[list[str], list[str]]:
        """Each packet's lower-cased name and display name, in id order.

        Display names are read once per packet (the first plain-word search
        reads them all, in bulk), then only those of new packets.
        """
        with self._lock:
            if self._words[0] != index.version:
                missing = [i for i in index.ids if i not in self._all_displays]
                self._all_displays.update(self._read_displays(missing))
                ids = list(index.sorted_ids())
                names, displays = index.names, self._all_displays
                haystacks = [f"{names[i]}\n{displays.get(i, '')}".lower() for i in ids]
                self._words = (index.version, ids, haystacks)
            return self._words[1], self._words[2]

    def _read_displays(self, packet_ids: list[str]) -> dict[str, str]:
        folder = str(self.root.metadata_dir)
        paths = [os.path.join(folder, packet_id) for packet_id in packet_ids]
        found: dict[str, str] = {}
        for packet_id, data in zip(packet_ids, read_many(paths), strict=True):
            try:
                document = orjson.loads(data) if data is not None else None
            except orjson.JSONDecodeError:
                document = None
            custom = document.get("custom") if isinstance(document, dict) else None
            found[packet_id] = describe(custom).display or ""
        return found


def _newest(ascending: list[str], offset: int, limit: int) -> list[str]:
    """`limit` ids from `offset`, counting from the newest."""
    total = len(ascending)
    stop = max(total - offset, 0)
    start = max(stop - limit, 0)
    return ascending[start:stop][::-1]
