"""`search()`: parse, scope and evaluate a query against a root, with cached indexes.

Each root gets one Catalog and one QueryIndex, built on first use and kept
current from the catalog's change feed (`changes_since`): a later search only
pays for a cheap refresh (directory mtimes), the new packets, and the
evaluation itself.
"""

from __future__ import annotations

import atexit
import gc
import os
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from outpack.catalog import Catalog
from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.fsutil import gc_paused
from outpack.query.ast import (
    BooleanExpr,
    BooleanOperator,
    Latest,
    Literal,
    LookupName,
    QueryNode,
    Single,
    Test,
    TestOperator,
)
from outpack.query.evaluate import evaluate
from outpack.query.index import QueryIndex
from outpack.query.parser import parse_query
from outpack.root import Root
from outpack.snapshot import SAVE_INTERVAL_S

__all__ = [
    "MAX_QUERY_LENGTH",
    "IndexedCatalog",
    "apply_scope",
    "index_for",
    "parse_search",
    "search",
]

# Real queries are a few hundred characters; this bounds the work an untrusted
# caller can ask for (the parser itself has no length or nesting limit).
MAX_QUERY_LENGTH = 100_000


def apply_scope(
    node: QueryNode, name: str | None = None, scope: QueryNode | None = None
) -> QueryNode:
    """Restrict a query to packets called `name` and/or matching `scope`.

    `latest(Q)` becomes `latest(Q && S)` (and `single(Q)` likewise), so that the
    scope chooses among candidates rather than filtering the single winner;
    anything else becomes `Q && S`.
    """
    restriction: QueryNode | None = scope
    if name is not None:
        by_name = Test(TestOperator.Equal, LookupName(), Literal(name))
        restriction = (
            by_name
            if restriction is None
            else BooleanExpr(BooleanOperator.And, restriction, by_name)
        )
    if restriction is None:
        return node
    if isinstance(node, Latest):
        if node.inner is None:
            return Latest(restriction)
        return Latest(BooleanExpr(BooleanOperator.And, node.inner, restriction))
    if isinstance(node, Single):
        return Single(BooleanExpr(BooleanOperator.And, node.inner, restriction))
    return BooleanExpr(BooleanOperator.And, node, restriction)


@dataclass
class IndexedCatalog:
    """A catalog and the query index derived from it, kept current by difference.

    `refresh` reads the root's changes into the catalog, then `sync`s the
    index. A server, whose catalog is refreshed (and saved) by its own state,
    calls only `sync`, with `saves_snapshot` off. Neither is thread-safe: the
    owner serialises them with its searches (`lock`, or the server's own).
    """

    catalog: Catalog
    saves_snapshot: bool = True
    index: QueryIndex = field(default_factory=QueryIndex)
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = -1
    saved_at: float | None = None
    searched_cache: dict[tuple[object, ...], frozenset[str]] = field(default_factory=dict)

    def refresh(self) -> None:
        self.catalog.refresh()
        self.sync()

    def sync(self) -> None:
        """Bring the index up to the catalog's version."""
        if self.version != self.catalog.version:
            changes = self.catalog.changes_since(self.version)
            if changes is None or changes.removed:
                # First use, or packets removed by hand: start again.
                self._rebuild()
            else:
                for packet_id in changes.packets:
                    summary = self.catalog.summary(packet_id)
                    if summary is not None:
                        self.index.add(summary)
            self.version = self.catalog.version
            self.searched_cache.clear()
            if self.saves_snapshot:
                self._save()

    def _save(self) -> None:
        now = time.monotonic()
        if self.saved_at is None or now - self.saved_at >= SAVE_INTERVAL_S:
            self.catalog.save()
            self.saved_at = now

    def _rebuild(self) -> None:
        with gc_paused():
            self.index = QueryIndex.from_packets(self.catalog.summaries())

    def searched(
        self, locations: Collection[str] | None, unpacked_only: bool
    ) -> frozenset[str] | None:
        if locations is None and not unpacked_only:
            return None
        key = (tuple(sorted(locations)) if locations is not None else None, unpacked_only)
        cached = self.searched_cache.get(key)
        if cached is not None:
            return cached
        allowed: set[str] = set(self.index.ids)
        if locations is not None:
            known = self.catalog.root.location_names()
            unknown = [name for name in locations if name not in known]
            if unknown:
                raise QueryEvaluationError(f"Unknown location: {', '.join(map(repr, unknown))}")
            at_locations: set[str] = set()
            for location in locations:
                at_locations.update(self.catalog.records(location))
            allowed &= at_locations
        if unpacked_only:
            allowed &= set(self.catalog.unpacked_ids())
        result = frozenset(allowed)
        self.searched_cache[key] = result
        return result

    def evaluate(  # noqa: PLR0913  # keyword-only: the values `search` takes
        self,
        node: QueryNode,
        *,
        this: Mapping[str, object] | None = None,
        environment: Mapping[str, object] | None = None,
        locations: Collection[str] | None = None,
        unpacked_only: bool = False,
        subqueries: Mapping[str, QueryNode] | None = None,
    ) -> list[str]:
        """Ids of the packets a parsed query finds in the index as it is, ascending."""
        found = evaluate(
            node,
            self.index,
            searched=self.searched(locations, unpacked_only),
            this=this,
            environment=environment,
            subqueries=subqueries,
        )
        if len(found) * 8 > len(self.index):
            return [packet_id for packet_id in self.index.sorted_ids() if packet_id in found]
        return sorted(found)


_by_path: dict[str, IndexedCatalog] = {}
_registry_lock = threading.Lock()


@atexit.register
def _skip_teardown() -> None:
    """Let the process exit without freeing the cached catalogs one object at a time.

    A root of 100,000 packets is over a million objects: freeing them at exit
    took half a second, a third of what `outpack search` costs. They are kept
    in a reference cycle that is then frozen, which the collector never
    frees, so the operating system reclaims the memory wholesale instead.
    """
    if not _by_path:
        return
    keep: list[object] = [_by_path]
    keep.append(keep)
    gc.freeze()


def _indexed(root: Root | str | os.PathLike[str]) -> IndexedCatalog:
    with _registry_lock:
        opened = root if isinstance(root, Root) else Root.open(root)
        key = str(Path(opened.path).resolve())
        state = _by_path.get(key)
        if state is None:
            state = _by_path[key] = IndexedCatalog(Catalog(opened, persistent=True))
        return state


def index_for(root: Root | str | os.PathLike[str]) -> QueryIndex:
    """The up-to-date index of a root (built on first use, then refreshed)."""
    state = _indexed(root)
    with state.lock:
        state.refresh()
        return state.index


def _parse_subqueries(
    subqueries: Mapping[str, str | QueryNode] | None,
) -> dict[str, QueryNode] | None:
    if subqueries is None:
        return None
    parsed: dict[str, QueryNode] = {}
    for key, value in subqueries.items():
        if isinstance(value, str):
            try:
                parsed[key] = parse_query(value)
            except QueryParseError as err:
                raise QueryParseError(f"In subquery {{{key}}}: {err}") from err
        else:
            parsed[key] = value
    return parsed


def parse_search(text: str) -> QueryNode:
    """Parse a query from an untrusted source: QueryParseError if too long or malformed."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryParseError(
            f"Query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}"
        )
    return parse_query(text)


def search(  # noqa: PLR0913  # keyword-only options, one per `outpack search` flag
    root: Root | str | os.PathLike[str],
    query: str | QueryNode,
    *,
    name: str | None = None,
    scope: str | QueryNode | None = None,
    this: Mapping[str, object] | None = None,
    environment: Mapping[str, object] | None = None,
    locations: Iterable[str] | None = None,
    unpacked_only: bool = False,
    subqueries: Mapping[str, str | QueryNode] | None = None,
) -> list[str]:
    """Ids of the packets `query` finds in `root`, ascending.

    `locations` limits the search to packets known at those locations and
    `unpacked_only` to packets unpacked here; `name`/`scope` narrow the query
    (see `apply_scope`). `this`, `environment` and named `subqueries` supply
    the values of `this:x`, `environment:x` and `{name}`.

    Raises QueryParseError for a malformed query and QueryEvaluationError for
    one that cannot be evaluated (e.g. `single` finding two packets).
    """
    node = parse_search(query) if isinstance(query, str) else query
    scope_node = parse_search(scope) if isinstance(scope, str) else scope
    node = apply_scope(node, name, scope_node)
    parsed_subqueries = _parse_subqueries(subqueries)
    wanted = None if locations is None else list(locations)
    state = _indexed(root)
    with state.lock:
        state.refresh()
        return state.evaluate(
            node,
            this=this,
            environment=environment,
            locations=wanted,
            unpacked_only=unpacked_only,
            subqueries=parsed_subqueries,
        )
