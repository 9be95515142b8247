"""`search()`: parse, scope and evaluate a query against a root, with cached indexes.

Each root (or catalog) gets one QueryIndex, built on first use and kept current
by the catalog, which reports packets it has not seen before; a later search
only pays for a cheap refresh (directory mtimes) and the evaluation itself.
"""

from __future__ import annotations

import atexit
import gc
import os
import threading
import weakref
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from outpack.catalog import Catalog
from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.fsutil import gc_paused
from outpack.location import LOCAL
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
from outpack.summary import PacketSummary

__all__ = ["MAX_QUERY_LENGTH", "apply_scope", "index_for", "search"]

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
class _Indexed:
    catalog: Catalog
    index: QueryIndex = field(default_factory=QueryIndex)
    lock: threading.RLock = field(default_factory=threading.RLock)
    subscribed: bool = False
    searched_cache: dict[tuple[object, ...], frozenset[str]] = field(default_factory=dict)
    searched_version: int = -1

    def _on_packet(self, packet: PacketSummary) -> None:
        # The catalog may be refreshed by another thread (the server's) mid-search.
        with self.lock:
            self.index.add(packet)

    def refresh(self) -> None:
        self.catalog.refresh()
        if not self.subscribed:
            self.catalog.subscribe(self._on_packet, replay=False)
            self.subscribed = True
            self._rebuild()
        elif len(self.index) != len(self.catalog.summaries):
            # Packets removed by hand: start again rather than track removals.
            self._rebuild()
        if self.searched_version != self.catalog.version:
            self.searched_cache.clear()
            self.searched_version = self.catalog.version

    def _rebuild(self) -> None:
        with gc_paused():
            self.index = QueryIndex.from_packets(self.catalog.summaries.values())

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
                at_locations.update(self.catalog.records.get(location, {}))
            allowed &= at_locations
        if unpacked_only:
            allowed &= set(self.catalog.records.get(LOCAL, {}))
        result = frozenset(allowed)
        self.searched_cache[key] = result
        return result


_by_path: dict[str, _Indexed] = {}
_by_catalog: weakref.WeakKeyDictionary[Catalog, _Indexed] = weakref.WeakKeyDictionary()
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


def _indexed(root: Root | Catalog | str | os.PathLike[str]) -> _Indexed:
    with _registry_lock:
        if isinstance(root, Catalog):
            state = _by_catalog.get(root)
            if state is None:
                state = _by_catalog[root] = _Indexed(root)
            return state
        opened = root if isinstance(root, Root) else Root.open(root)
        key = str(Path(opened.path).resolve())
        state = _by_path.get(key)
        if state is None:
            state = _by_path[key] = _Indexed(Catalog(opened, persistent=True))
        return state


def index_for(root: Root | Catalog | str | os.PathLike[str]) -> QueryIndex:
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


def search(  # noqa: PLR0913  # TODO(merge): complexity rules back on (issue 11); service.py is being rewritten
    root: Root | Catalog | str | os.PathLike[str],
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
    for text in (query, scope):
        if isinstance(text, str) and len(text) > MAX_QUERY_LENGTH:
            raise QueryParseError(
                f"Query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}"
            )
    node = parse_query(query) if isinstance(query, str) else query
    scope_node = parse_query(scope) if isinstance(scope, str) else scope
    node = apply_scope(node, name, scope_node)
    parsed_subqueries = _parse_subqueries(subqueries)
    wanted = None if locations is None else list(locations)
    state = _indexed(root)
    with state.lock:
        state.refresh()
        searched = state.searched(wanted, unpacked_only)
        found = evaluate(
            node,
            state.index,
            searched=searched,
            this=this,
            environment=environment,
            subqueries=parsed_subqueries,
        )
        if len(found) * 8 > len(state.index):
            return [packet_id for packet_id in state.index.sorted_ids() if packet_id in found]
        return sorted(found)
