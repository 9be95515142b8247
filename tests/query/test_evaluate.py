"""The evaluator against a direct reading of the spec, on random packets and queries."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outpack.config import CoreConfig, init_root
from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.query import (
    BooleanExpr,
    BooleanOperator,
    Brackets,
    Latest,
    Literal,
    LookupId,
    LookupName,
    LookupParameter,
    Negation,
    QueryIndex,
    QueryNode,
    Single,
    Test,
    TestOperator,
    UsedBy,
    Uses,
    evaluate,
    parse_query,
    search,
)
from outpack.query.ast import TestValue
from outpack.query.service import MAX_QUERY_LENGTH


@dataclass(frozen=True)
class Packet:
    id: str
    name: str
    parameters: Mapping[str, Any] | None
    dependency_ids: tuple[str, ...] = field(default=())


def _typed(value: object) -> tuple[str, object] | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    return ("s", value)


def _holds(op: TestOperator, a: object, b: object) -> bool:
    """The spec's comparison rules, written out plainly."""
    left, right = _typed(a), _typed(b)
    if left is None or right is None:
        return False
    if op is TestOperator.Equal:
        return left == right
    if op is TestOperator.NotEqual:
        return left != right
    if left[0] != "n" or right[0] != "n":
        return False
    x, y = float(left[1]), float(right[1])  # type: ignore[arg-type]
    return {
        TestOperator.LessThan: x < y,
        TestOperator.LessThanOrEqual: x <= y,
        TestOperator.GreaterThan: x > y,
        TestOperator.GreaterThanOrEqual: x >= y,
    }[op]


def oracle(node: QueryNode, packets: dict[str, Packet], searched: set[str]) -> set[str]:
    """Packet by packet, exactly as the spec reads; slow and obviously right."""

    def value(side: TestValue, packet: Packet) -> object:
        if isinstance(side, Literal):
            return side.value
        if isinstance(side, LookupId):
            return packet.id
        if isinstance(side, LookupName):
            return packet.name
        assert isinstance(side, LookupParameter)
        return (packet.parameters or {}).get(side.name)

    def run(node: QueryNode) -> set[str]:
        while isinstance(node, Brackets):
            node = node.inner
        if isinstance(node, Test):
            return {
                i
                for i in searched
                if _holds(node.operator, value(node.lhs, packets[i]), value(node.rhs, packets[i]))
            }
        if isinstance(node, BooleanExpr):
            lhs, rhs = run(node.lhs), run(node.rhs)
            return lhs & rhs if node.operator is BooleanOperator.And else lhs | rhs
        if isinstance(node, Negation):
            return searched - run(node.inner)
        if isinstance(node, Latest):
            found = searched if node.inner is None else run(node.inner)
            return {max(found)} if found else set()
        if isinstance(node, Single):
            found = run(node.inner)
            if len(found) != 1:
                raise QueryEvaluationError(
                    f"Query found {len(found)} packets, but expected exactly one"
                )
            return found
        assert isinstance(node, (UsedBy, Uses))
        return _reachable(node, run(node.inner), packets) & searched

    return run(node)


def _reachable(node: UsedBy | Uses, start: set[str], packets: dict[str, Packet]) -> set[str]:
    """What usedby/uses reaches from `start`, one step at a time up to the depth."""
    reached: set[str] = set()
    frontier = set(start)
    steps = 0
    limit = float("inf") if node.depth is None else node.depth
    while frontier and steps + 1 <= limit:
        steps += 1
        following = set()
        for packet_id in frontier:
            if isinstance(node, UsedBy):
                neighbours = packets[packet_id].dependency_ids if packet_id in packets else ()
            else:
                neighbours = tuple(p.id for p in packets.values() if packet_id in p.dependency_ids)
            following.update(n for n in neighbours if n not in reached and n not in start)
        reached |= following
        frontier = following
    return reached


NAMES = ["a", "b", "c"]
VALUES: list[object] = [1, 2, 2.5, -1, 0, True, False, "1", "x", "a", None]


def random_packets(rng: random.Random, count: int) -> list[Packet]:
    packets: list[Packet] = []
    for number in range(count):
        packet_id = f"20240101-{number:06d}-{rng.getrandbits(32):08x}"
        parameters = None
        if rng.random() < 0.85:
            parameters = {k: rng.choice(VALUES) for k in "xyz" if rng.random() < 0.7}
        depends = tuple(p.id for p in rng.sample(packets, min(len(packets), rng.randint(0, 2))))
        if rng.random() < 0.1:
            depends += ("19990101-000000-deadbeef",)
        packets.append(Packet(packet_id, rng.choice(NAMES), parameters, depends))
    return packets


def random_query(rng: random.Random, ids: list[str], depth: int = 0) -> str:
    def value() -> str:
        return rng.choice(
            [
                "parameter:x",
                "parameter:y",
                "parameter:z",
                "name",
                "id",
                "1",
                "2",
                "2.5",
                "-1",
                "0",
                "true",
                "FALSE",
                "'1'",
                "'x'",
                "'a'",
                "'b'",
                f"'{rng.choice(ids)}'",
            ]
        )

    def test() -> str:
        return f"{value()} {rng.choice(['==', '!=', '<', '<=', '>', '>='])} {value()}"

    def primary() -> str:
        kind = rng.randrange(10) if depth < 3 else 0
        if kind <= 4:
            return test()
        inner = random_query(rng, ids, depth + 1)
        if kind == 5:
            return f"({inner})"
        if kind == 6:
            return f"latest({inner})"
        if kind == 7:
            return "latest()"
        single = f"latest({inner})" if rng.random() < 0.5 else f"id == '{rng.choice(ids)}'"
        fn = rng.choice(["usedby", "uses"])
        depth_arg = rng.choice(["", ", 1", ", 2", ", depth = 3"])
        return f"{fn}({single}{depth_arg})"

    parts = []
    for index in range(rng.randint(1, 3)):
        if index:
            parts.append(rng.choice([" && ", " || "]))
        parts.append(("!" if rng.random() < 0.3 else "") + primary())
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_evaluator_agrees_with_a_direct_reading_of_the_spec(seed: int) -> None:
    rng = random.Random(seed)
    packets = random_packets(rng, rng.randint(0, 40))
    by_id = {p.id: p for p in packets}
    index = QueryIndex.from_packets(packets)
    ids = [p.id for p in packets] or ["20240101-000000-00000000"]
    for _ in range(15):
        node = parse_query(random_query(rng, ids))
        searched = None if rng.random() < 0.5 else {i for i in by_id if rng.random() < 0.6}
        everything = set(by_id) if searched is None else searched
        try:
            expected = oracle(node, by_id, everything)
        except QueryEvaluationError as err:
            with pytest.raises(QueryEvaluationError, match="expected exactly one"):
                evaluate(node, index, searched=searched)
            assert "expected exactly one" in str(err)
            continue
        assert set(evaluate(node, index, searched=searched)) == expected, node


def test_index_is_kept_current_by_add() -> None:
    index = QueryIndex()
    node = parse_query("latest(name == 'a' && parameter:x > 1)")
    assert evaluate(node, index) == set()
    index.add(Packet("20240101-000000-00000002", "a", {"x": 2}))
    assert evaluate(node, index) == {"20240101-000000-00000002"}
    # Out of order (an older packet imported later) and a replacement of an entry.
    index.add(Packet("20240101-000000-00000001", "a", {"x": 5}))
    index.add(Packet("20240101-000000-00000002", "b", {"x": 2}))
    assert evaluate(node, index) == {"20240101-000000-00000001"}
    assert index.sorted_ids() == ["20240101-000000-00000001", "20240101-000000-00000002"]
    assert evaluate(parse_query("latest"), index) == {"20240101-000000-00000002"}


def test_typed_comparisons_on_the_index() -> None:
    packets = [
        Packet("20240101-000000-00000001", "a", {"v": True}),
        Packet("20240101-000000-00000002", "a", {"v": 1}),
        Packet("20240101-000000-00000003", "a", {"v": "1"}),
        Packet("20240101-000000-00000004", "a", {"v": None}),
        Packet("20240101-000000-00000005", "a", None),
    ]
    index = QueryIndex.from_packets(packets)

    def ids(query: str) -> list[str]:
        return sorted(i[-1] for i in evaluate(parse_query(query), index))

    assert ids("parameter:v == 1") == ["2"]
    assert ids("parameter:v == true") == ["1"]
    assert ids("parameter:v == '1'") == ["3"]
    assert ids("parameter:v != 1") == ["1", "3"]
    assert ids("!(parameter:v == 1)") == ["1", "3", "4", "5"]
    assert ids("parameter:v >= 1") == ["2"]
    assert ids("name == 'a' && parameter:v < 2") == ["2"]


def test_lookup_errors_do_not_depend_on_data() -> None:
    empty = QueryIndex()
    with pytest.raises(QueryEvaluationError, match="this parameters are not supported"):
        evaluate(parse_query("this:x == 1"), empty)
    with pytest.raises(QueryEvaluationError, match="environment lookup is not supported"):
        evaluate(parse_query("latest(environment:x == 1)"), empty)
    with pytest.raises(QueryEvaluationError, match="`y`"):
        evaluate(parse_query("this:y == 1"), empty, this={"x": 1})


def test_negation_and_chains_are_linear() -> None:
    count = 20_000
    packets = [
        Packet(f"20240101-{n:06d}-00000000", NAMES[n % 3], {"x": n % 7}) for n in range(count)
    ]
    index = QueryIndex.from_packets(packets)
    chain = " || ".join(f"parameter:x == {n}" for n in range(1000))
    negations = " && ".join(f"!(parameter:x == {n % 7})" for n in range(1000))
    assert len(evaluate(parse_query(chain), index)) == count
    assert evaluate(parse_query(negations), index) == set()
    deep = "!(" * 101 + "name == 'a'" + ")" * 101
    assert len(evaluate(parse_query(deep), index)) == count - len(index.with_name("a"))


def test_query_length_is_bounded(tmp_path: Path) -> None:
    path, _ = init_root(tmp_path / "r", CoreConfig())
    long_query = "name == '" + "x" * MAX_QUERY_LENGTH + "'"
    with pytest.raises(QueryParseError, match="the limit is 100000"):
        search(path, long_query)
    deep = "!(" * 300 + "name == 'a'" + ")" * 300
    with pytest.raises(QueryEvaluationError, match="nested too deeply"):
        search(path, deep)
