"""Indexes that let a query touch only the packets it needs.

Built once from packet summaries (anything with `id`, `name`, `parameters` and
`dependency_ids`: a PacketSummary, a PacketMetadata) and kept current with `add`.
The index knows nothing of how packets are found; the caller feeds it.

* packets by name, and each packet's name;
* packets by (parameter, typed value): `parameter:x == 1` is one dict lookup;
  numeric values are also kept sorted per parameter for `<`, `<=`, `>`, `>=`;
* the same per (name, parameter), since most queries test parameters of one
  report: `name == "a" && parameter:x < 2` then reads only the packets of "a";
* the dependency graph both ways, including edges to packets with no metadata.

Sets returned by the accessors belong to the index: callers must not mutate them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, TypeAlias

# A parameter value with its type made explicit: True, 1.0 and "1" must be three
# different keys, but Python considers True == 1.0 (and hashes them alike).
ValueKey: TypeAlias = tuple[str, object]

_EMPTY: frozenset[str] = frozenset()
_NO_PARAMETERS: Mapping[str, object] = {}
_ABSENT = object()


class PacketLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, object] | None: ...

    @property
    def dependency_ids(self) -> Sequence[str]: ...


def _unique(ids: Sequence[str]) -> tuple[str, ...]:
    if len(ids) < 2:
        return tuple(ids)
    return tuple(dict.fromkeys(ids))


def value_key(value: object) -> ValueKey | None:
    """The typed key of a parameter or literal value; None when absent or unusable."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    return None


class QueryIndex:
    """Per-packet columns, plus lookup tables built the first time a query needs them.

    Building every table up front cost about two seconds for 100,000 packets,
    most of it for (name, parameter) pairs a given query never touches; a
    command-line search pays only for the tables its query reads, and a
    server builds each once and keeps it current in `add`.
    """

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.names: dict[str, str] = {}
        self.parameters: dict[str, Mapping[str, object]] = {}
        self.depends_on: dict[str, tuple[str, ...]] = {}
        self.version = 0
        self._by_name: dict[str, set[str]] | None = None
        # Only the parameters (and name, parameter pairs) asked about so far.
        self._by_parameter: dict[str, dict[ValueKey, set[str]]] = {}
        self._by_name_parameter: dict[tuple[str, str], dict[ValueKey, set[str]]] = {}
        self._used_by: dict[str, set[str]] | None = None
        self._sorted: list[str] = []
        self._sorted_valid = True
        self._numeric: dict[tuple[str | None, str], list[float]] = {}

    @classmethod
    def from_packets(cls, packets: Iterable[PacketLike]) -> QueryIndex:
        index = cls()
        packets = list(packets)
        ids = [packet.id for packet in packets]
        if len(set(ids)) != len(ids):
            # Repeated ids: the last one wins, as with repeated `add`s.
            for packet in packets:
                index.add(packet)
            return index
        index.names = dict(zip(ids, [packet.name for packet in packets], strict=True))
        index.parameters = {packet.id: (packet.parameters or _NO_PARAMETERS) for packet in packets}
        index.depends_on = {packet.id: _unique(packet.dependency_ids) for packet in packets}
        index.ids = set(ids)
        index._sorted = sorted(ids)
        index.version = len(ids)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, packet_id: object) -> bool:
        return packet_id in self.ids

    def add(self, packet: PacketLike) -> None:
        """Index a packet; adding one already indexed replaces its entries."""
        packet_id = packet.id
        if packet_id in self.ids:
            self._remove(packet_id)
        self.ids.add(packet_id)
        if self._sorted_valid:
            if not self._sorted or packet_id > self._sorted[-1]:
                self._sorted.append(packet_id)
            else:
                # Packets imported out of order: re-sort once, when next asked.
                self._sorted_valid = False
        name = packet.name
        self.names[packet_id] = name
        if self._by_name is not None:
            self._by_name.setdefault(name, set()).add(packet_id)
        parameters = packet.parameters or _NO_PARAMETERS
        self.parameters[packet_id] = parameters
        for key, value in parameters.items():
            typed = value_key(value)
            if typed is None:
                continue
            table = self._by_parameter.get(key)
            if table is not None:
                table.setdefault(typed, set()).add(packet_id)
            scoped = self._by_name_parameter.get((name, key))
            if scoped is not None:
                scoped.setdefault(typed, set()).add(packet_id)
            if typed[0] == "number":
                self._numeric.pop((None, key), None)
                self._numeric.pop((name, key), None)
        depends = _unique(packet.dependency_ids)
        self.depends_on[packet_id] = depends
        if self._used_by is not None:
            for dependency in depends:
                self._used_by.setdefault(dependency, set()).add(packet_id)
        self.version += 1

    def _remove(self, packet_id: str) -> None:
        self.ids.discard(packet_id)
        self._sorted_valid = False
        name = self.names.pop(packet_id)
        if self._by_name is not None:
            self._by_name[name].discard(packet_id)
        for key, value in self.parameters.pop(packet_id).items():
            typed = value_key(value)
            if typed is None:
                continue
            for table in (self._by_parameter.get(key), self._by_name_parameter.get((name, key))):
                if table is not None and typed in table:
                    table[typed].discard(packet_id)
            self._numeric.pop((None, key), None)
            self._numeric.pop((name, key), None)
        depends = self.depends_on.pop(packet_id)
        if self._used_by is not None:
            for dependency in depends:
                self._used_by[dependency].discard(packet_id)

    @property
    def used_by(self) -> dict[str, set[str]]:
        """The packets that depend on each packet (including ones with no metadata)."""
        if self._used_by is None:
            used_by: dict[str, set[str]] = {}
            for packet_id, depends in self.depends_on.items():
                for dependency in depends:
                    used_by.setdefault(dependency, set()).add(packet_id)
            self._used_by = used_by
        return self._used_by

    @property
    def by_name(self) -> dict[str, set[str]]:
        if self._by_name is None:
            by_name: dict[str, set[str]] = {}
            for packet_id, name in self.names.items():
                members = by_name.get(name)
                if members is None:
                    by_name[name] = {packet_id}
                else:
                    members.add(packet_id)
            self._by_name = by_name
        return self._by_name

    def sorted_ids(self) -> list[str]:
        """Every indexed id, ascending (the list belongs to the index)."""
        if not self._sorted_valid:
            self._sorted = sorted(self.ids)
            self._sorted_valid = True
        return self._sorted

    def latest(self) -> str | None:
        ids = self.sorted_ids()
        return ids[-1] if ids else None

    def with_name(self, name: str) -> set[str] | frozenset[str]:
        return self.by_name.get(name, _EMPTY)

    def with_value(
        self, parameter: str, key: ValueKey, name: str | None = None
    ) -> set[str] | frozenset[str]:
        return self.values_of(parameter, name).get(key, _EMPTY)

    def values_of(self, parameter: str, name: str | None = None) -> dict[ValueKey, set[str]]:
        """Packets by value of `parameter` (among packets called `name`, if given)."""
        if name is None:
            table = self._by_parameter.get(parameter)
            if table is None:
                table = self._by_parameter[parameter] = self._tabulate(parameter, self.ids)
            return table
        scoped = self._by_name_parameter.get((name, parameter))
        if scoped is None:
            scoped = self._tabulate(parameter, self.with_name(name))
            self._by_name_parameter[(name, parameter)] = scoped
        return scoped

    def _tabulate(self, parameter: str, packet_ids: Iterable[str]) -> dict[ValueKey, set[str]]:
        table: dict[ValueKey, set[str]] = {}
        parameters = self.parameters
        pairs = (
            parameters.items()
            if packet_ids is self.ids
            else ((packet_id, parameters[packet_id]) for packet_id in packet_ids)
        )
        for packet_id, values in pairs:
            value = values.get(parameter, _ABSENT)
            if value is _ABSENT:
                continue
            typed = value_key(value)
            if typed is not None:
                members = table.get(typed)
                if members is None:
                    table[typed] = {packet_id}
                else:
                    members.add(packet_id)
        return table

    def numbers_between(  # noqa: PLR0913  # TODO(merge): complexity rules back on (issue 11); index.py is being rewritten
        self,
        parameter: str,
        low: float,
        high: float,
        *,
        low_open: bool,
        high_open: bool,
        name: str | None = None,
    ) -> list[set[str]]:
        """Sets of packets whose numeric `parameter` lies in the interval given."""
        values = self.values_of(parameter, name)
        numbers = self._numeric.get((name, parameter))
        if numbers is None:
            numbers = sorted(
                value
                for kind, value in values
                if kind == "number" and isinstance(value, float) and not math.isnan(value)
            )
            self._numeric[(name, parameter)] = numbers
        start = (bisect.bisect_right if low_open else bisect.bisect_left)(numbers, low)
        stop = (bisect.bisect_left if high_open else bisect.bisect_right)(numbers, high)
        return [values[("number", number)] for number in numbers[start:stop]]
