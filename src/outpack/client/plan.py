"""Planning transfers: which packets (with their dependencies) and files move, in what order.

Packets are ordered in levels: a packet's dependencies are all in earlier
levels, so each level can be imported (or pushed) in parallel once the
levels before it are in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from outpack.errors import NotFoundError
from outpack.ids import is_packet_id
from outpack.metadata import PacketMetadata
from outpack.query import search
from outpack.root import Root


def resolve_ids(
    root: Root, query: str, *, locations: Sequence[str] | None = None, unpacked: bool = False
) -> list[str]:
    """The packets `query` names: ids as given (space/comma separated), else a search."""
    words = query.replace(",", " ").split()
    if words and all(is_packet_id(word) for word in words):
        return list(dict.fromkeys(words))
    found = search(root, query, locations=locations, unpacked_only=unpacked)
    if not found:
        raise NotFoundError(f"No packets match '{query}'")
    return found


def closure(
    ids: Iterable[str],
    metadata: Callable[[str], PacketMetadata],
    *,
    recursive: bool = True,
) -> dict[str, PacketMetadata]:
    """`ids` and, if recursive, every packet they depend on, transitively.

    Only what a transfer needs (id, name, files, dependencies) is kept of each
    document, so planning 100,000 packets stays small.
    """
    found: dict[str, PacketMetadata] = {}
    todo = list(dict.fromkeys(ids))
    while todo:
        packet_id = todo.pop()
        if packet_id in found:
            continue
        found[packet_id] = replace(
            metadata(packet_id), parameters=None, custom=None, git=None, raw={}
        )
        if recursive:
            todo.extend(dep for dep in found[packet_id].dependency_ids if dep not in found)
    return found


def levels(packets: dict[str, PacketMetadata]) -> list[list[str]]:
    """Packets grouped so that each one's dependencies (among `packets`) come earlier."""
    depth: dict[str, int] = {}
    for start in packets:
        stack = [start]
        while stack:
            packet_id = stack[-1]
            if packet_id in depth:
                stack.pop()
                continue
            deps = [d for d in packets[packet_id].dependency_ids if d in packets]
            pending = [d for d in deps if d not in depth and d not in stack]
            if pending:
                stack.extend(pending)
                continue
            depth[packet_id] = 1 + max((depth.get(d, 0) for d in deps), default=-1)
            stack.pop()
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for packet_id in sorted(packets):
        grouped[depth[packet_id]].append(packet_id)
    return grouped


@dataclass
class PacketPlan:
    """Packets to move, in levels, and their distinct files."""

    packets: dict[str, PacketMetadata]
    order: list[list[str]]
    sizes: dict[str, int] = field(default_factory=dict)  # file hash -> size

    @classmethod
    def of(cls, packets: dict[str, PacketMetadata]) -> PacketPlan:
        sizes = {f.hash: f.size for m in packets.values() for f in m.files}
        return cls(packets, levels(packets), sizes)

    @property
    def ids(self) -> list[str]:
        return [packet_id for level in self.order for packet_id in level]
