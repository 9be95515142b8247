"""The query AST: the node classes and enums of `outpack_query_parser`, plus the extensions.

Compatible nodes have the reference's class names, field names, field order and
`repr`, so `repr(parse_query(q))` is the same text for both parsers.

Equality, hashing, `repr` and the JSON form walk the tree with an explicit stack
rather than recursion: a long `a && b && ...` chain is a left-deep tree as deep
as the chain is long, and a megabyte-long query must not raise RecursionError.
Literal equality is type-strict (`Literal(True) != Literal(1.0)`), since the
evaluator treats a boolean and a number as different values.

Like the reference's, nodes are plain (mutable) dataclasses: a frozen dataclass
costs four times as much to construct, which is most of a parse. They hash
structurally, so treat a node as immutable once it is in a set or dict.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, TypeAlias


class _ReprEnum(enum.IntEnum):
    # The reference's enums print as `TestOperator.Equal` both ways; IntEnum would
    # print `<TestOperator.Equal: 0>` and `0`.
    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __str__(self) -> str:
        return repr(self)

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)


class TestOperator(_ReprEnum):
    __test__ = False  # not a pytest test class, despite the name

    Equal = 0
    NotEqual = 1
    LessThan = 2
    LessThanOrEqual = 3
    GreaterThan = 4
    GreaterThanOrEqual = 5

    @property
    def symbol(self) -> str:
        return _OPERATOR_SYMBOLS[self]


class BooleanOperator(_ReprEnum):
    And = 0
    Or = 1

    @property
    def symbol(self) -> str:
        return "&&" if self is BooleanOperator.And else "||"


_OPERATOR_SYMBOLS = {
    TestOperator.Equal: "==",
    TestOperator.NotEqual: "!=",
    TestOperator.LessThan: "<",
    TestOperator.LessThanOrEqual: "<=",
    TestOperator.GreaterThan: ">",
    TestOperator.GreaterThanOrEqual: ">=",
}

OPERATORS_BY_SYMBOL: dict[str, TestOperator] = {v: k for k, v in _OPERATOR_SYMBOLS.items()}


class Node:
    """Base of every AST node; structural equality, hash and repr without recursion."""

    __slots__ = ()
    _field_names: ClassVar[tuple[str, ...]] = ()

    def children(self) -> tuple[Node, ...]:
        return tuple(
            value
            for value in (getattr(self, name) for name in self._field_names)
            if isinstance(value, Node)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        stack: list[tuple[object, object]] = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if type(a) is not type(b):
                return False
            if isinstance(a, Node):
                for name in a._field_names:
                    stack.append((getattr(a, name), getattr(b, name)))
            elif a != b:
                return False
        return True

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(tuple(_flatten(self)))

    def __repr__(self) -> str:
        return "".join(_repr_pieces(self))

    def to_json(self) -> str:
        """The node as JSON text: `{"type": "Test", "operator": "Equal", ...}`."""
        return "".join(_json_pieces(self))


def _flatten(node: Node) -> Iterator[object]:
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            yield type(item)
            stack.extend(getattr(item, name) for name in reversed(item._field_names))
        else:
            yield type(item)
            yield item


class _Raw(str):
    """Output text queued on a traversal stack, told apart from string field values."""

    __slots__ = ()


def _repr_pieces(node: Node) -> Iterator[str]:
    # Pieces are pushed in reverse so they pop in output order.
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            yield item
        elif isinstance(item, Node):
            names = item._field_names
            yield f"{type(item).__name__}("
            stack.append(_Raw(")"))
            for index in range(len(names) - 1, -1, -1):
                stack.append(getattr(item, names[index]))
                prefix = ", " if index else ""
                stack.append(_Raw(f"{prefix}{names[index]}="))
        else:
            yield repr(item)


def _json_scalar(value: object) -> str:
    if isinstance(value, enum.Enum):
        return json.dumps(value.name)
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no infinities or NaN; `1e400` parses to inf.
        return json.dumps(str(value))
    return json.dumps(value, ensure_ascii=False)


def _json_pieces(node: Node) -> Iterator[str]:
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            yield item
        elif isinstance(item, Node):
            yield '{"type": ' + json.dumps(type(item).__name__)
            stack.append(_Raw("}"))
            for name in reversed(item._field_names):
                stack.append(getattr(item, name))
                stack.append(_Raw(f", {json.dumps(name)}: "))
        else:
            yield _json_scalar(item)


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, left to right."""
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(item.children()))


@dataclass(eq=False, repr=False, slots=True)
class LookupId(Node):
    pass


@dataclass(eq=False, repr=False, slots=True)
class LookupName(Node):
    pass


@dataclass(eq=False, repr=False, slots=True)
class LookupParameter(Node):
    name: str


@dataclass(eq=False, repr=False, slots=True)
class LookupThis(Node):
    name: str


@dataclass(eq=False, repr=False, slots=True)
class LookupEnvironment(Node):
    name: str


@dataclass(eq=False, repr=False, slots=True)
class Literal(Node):
    value: str | float | bool


@dataclass(eq=False, repr=False, slots=True)
class Test(Node):
    __test__ = False  # not a pytest test class, despite the name

    operator: TestOperator
    lhs: TestValue
    rhs: TestValue


@dataclass(eq=False, repr=False, slots=True)
class BooleanExpr(Node):
    operator: BooleanOperator
    lhs: QueryNode
    rhs: QueryNode


@dataclass(eq=False, repr=False, slots=True)
class Negation(Node):
    inner: QueryNode


@dataclass(eq=False, repr=False, slots=True)
class Brackets(Node):
    inner: QueryNode


@dataclass(eq=False, repr=False, slots=True)
class Latest(Node):
    inner: QueryNode | None


@dataclass(eq=False, repr=False, slots=True)
class Single(Node):
    inner: QueryNode


# Extensions (orderly2). `depth` is None for "all levels".
@dataclass(eq=False, repr=False, slots=True)
class UsedBy(Node):
    inner: QueryNode
    depth: float | None


@dataclass(eq=False, repr=False, slots=True)
class Uses(Node):
    inner: QueryNode
    depth: float | None


@dataclass(eq=False, repr=False, slots=True)
class Subquery(Node):
    """An anonymous subquery `{expr}`."""

    inner: QueryNode


@dataclass(eq=False, repr=False, slots=True)
class NamedSubquery(Node):
    """`{name}`: a subquery the caller supplies by name."""

    name: str


Lookup: TypeAlias = LookupId | LookupName | LookupParameter | LookupThis | LookupEnvironment
TestValue: TypeAlias = Literal | Lookup
QueryNode: TypeAlias = (
    Latest
    | Single
    | Negation
    | Brackets
    | Test
    | BooleanExpr
    | UsedBy
    | Uses
    | Subquery
    | NamedSubquery
)

COMPATIBLE_NODES: tuple[type[Node], ...] = (
    Latest,
    Single,
    Negation,
    Brackets,
    Test,
    BooleanExpr,
    Literal,
    LookupId,
    LookupName,
    LookupParameter,
    LookupThis,
    LookupEnvironment,
)
EXTENSION_NODES: tuple[type[Node], ...] = (UsedBy, Uses, Subquery, NamedSubquery)

for _cls in (*COMPATIBLE_NODES, *EXTENSION_NODES):
    _cls._field_names = tuple(_cls.__dataclass_fields__)  # type: ignore[attr-defined]

__all__ = [
    "COMPATIBLE_NODES",
    "EXTENSION_NODES",
    "BooleanExpr",
    "BooleanOperator",
    "Brackets",
    "Latest",
    "Literal",
    "Lookup",
    "LookupEnvironment",
    "LookupId",
    "LookupName",
    "LookupParameter",
    "LookupThis",
    "NamedSubquery",
    "Negation",
    "Node",
    "QueryNode",
    "Single",
    "Subquery",
    "Test",
    "TestOperator",
    "TestValue",
    "UsedBy",
    "Uses",
    "iter_nodes",
]
