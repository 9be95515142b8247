"""The dependency graph around one packet, laid out in columns for an SVG.

Upstream packets (what this one used) go to the left, downstream ones (what
used it) to the right, one column per level; each column shows at most
`width` packets, newest first, and says how many more there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

NODE_WIDTH = 190
NODE_HEIGHT = 40
COLUMN_GAP = 60
ROW_GAP = 14
MARGIN = 10


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    level: int
    x: int
    y: int
    centre: bool


@dataclass(frozen=True, slots=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    more: list[tuple[int, int, int]]  # x, y, how many packets were left out
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


Neighbours = Callable[[str], Iterable[str]]


def _levels(
    centre: str, step: Neighbours, depth: int, width: int
) -> tuple[list[list[str]], list[int]]:
    """Packets `1..depth` steps away (each once, nearest level wins)."""
    seen = {centre}
    frontier = [centre]
    levels: list[list[str]] = []
    hidden: list[int] = []
    for _ in range(depth):
        found = sorted({n for packet in frontier for n in step(packet)} - seen, reverse=True)
        if not found:
            break
        seen.update(found)
        levels.append(found[:width])
        hidden.append(len(found) - len(found[:width]))
        frontier = found[:width]
    return levels, hidden


def layout(
    centre: str, upstream: Neighbours, downstream: Neighbours, depth: int = 2, width: int = 6
) -> Layout:
    up, up_hidden = _levels(centre, upstream, depth, width)
    down, down_hidden = _levels(centre, downstream, depth, width)
    columns: list[tuple[int, list[str], int]] = [
        *((-(i + 1), ids, up_hidden[i]) for i, ids in reversed(list(enumerate(up)))),
        (0, [centre], 0),
        *((i + 1, ids, down_hidden[i]) for i, ids in enumerate(down)),
    ]
    rows = max(len(ids) + (1 if more else 0) for _, ids, more in columns)
    height = MARGIN * 2 + rows * NODE_HEIGHT + (rows - 1) * ROW_GAP
    nodes: dict[str, Node] = {}
    more: list[tuple[int, int, int]] = []
    for column, (level, ids, hidden) in enumerate(columns):
        x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
        count = len(ids) + (1 if hidden else 0)
        top = (height - (count * NODE_HEIGHT + (count - 1) * ROW_GAP)) // 2
        for row, packet_id in enumerate(ids):
            y = top + row * (NODE_HEIGHT + ROW_GAP)
            nodes[packet_id] = Node(packet_id, level, x, y, level == 0)
        if hidden:
            more.append((x, top + len(ids) * (NODE_HEIGHT + ROW_GAP), hidden))
    edges = []
    for node in nodes.values():
        for target_id in upstream(node.id):
            target = nodes.get(target_id)
            if target is not None and target.x < node.x:
                edges.append(_edge(target, node))
    width_px = MARGIN * 2 + len(columns) * NODE_WIDTH + (len(columns) - 1) * COLUMN_GAP
    return Layout(list(nodes.values()), edges, more, width_px, height)


def _edge(source: Node, target: Node) -> Edge:
    half = NODE_HEIGHT // 2
    return Edge(source.x + NODE_WIDTH, source.y + half, target.x, target.y + half)
