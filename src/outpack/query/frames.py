"""What the two parsers share: keywords, the kinds of open construct, and the
frame that builds the expression inside one of them."""

from __future__ import annotations

from typing import Final

from outpack.query.ast import (
    BooleanExpr,
    BooleanOperator,
    Latest,
    Literal,
    LookupId,
    LookupName,
    Negation,
    QueryNode,
    Single,
    Test,
    TestOperator,
)

BOOLEANS: Final = {
    "true": True,
    "TRUE": True,
    "True": True,
    "false": False,
    "FALSE": False,
    "False": False,
}

# Kinds of open construct.
TOP, BRACKETS, LATEST, SINGLE, USEDBY, USES, SUBQUERY = range(7)
CLOSED_BY_PAREN = frozenset((BRACKETS, LATEST, SINGLE, USEDBY, USES))
FUNCTIONS: Final = {"latest": LATEST, "single": SINGLE, "usedby": USEDBY, "uses": USES}


class Frame:
    """One open construct and the expression being built inside it."""

    __slots__ = ("and_acc", "arg_start", "kind", "name", "neg", "or_acc", "pending", "start")

    def __init__(self, kind: int, start: int, name: str = "", arg_start: int = 0) -> None:
        self.kind = kind
        self.start = start
        self.name = name
        self.arg_start = arg_start
        self.neg = False
        self.pending: BooleanOperator | None = None
        self.and_acc: QueryNode | None = None
        self.or_acc: QueryNode | None = None

    def add(self, node: QueryNode) -> None:
        if self.neg:
            node = Negation(node)
            self.neg = False
        pending = self.pending
        if pending is None:
            self.and_acc = node
        elif pending is BooleanOperator.And:
            assert self.and_acc is not None
            self.and_acc = BooleanExpr(BooleanOperator.And, self.and_acc, node)
        else:
            assert self.and_acc is not None
            if self.or_acc is None:
                self.or_acc = self.and_acc
            else:
                self.or_acc = BooleanExpr(BooleanOperator.Or, self.or_acc, self.and_acc)
            self.and_acc = node
        self.pending = None

    def result(self) -> QueryNode:
        assert self.and_acc is not None
        if self.or_acc is None:
            return self.and_acc
        return BooleanExpr(BooleanOperator.Or, self.or_acc, self.and_acc)


# Field-less nodes are shared: one less allocation per lookup.
LOOKUP_ID = LookupId()
LOOKUP_NAME = LookupName()


def is_single_valued(node: QueryNode) -> bool:
    if isinstance(node, (Latest, Single)):
        return True
    return (
        isinstance(node, Test)
        and node.operator is TestOperator.Equal
        and isinstance(node.lhs, LookupId)
        and isinstance(node.rhs, Literal)
        and isinstance(node.rhs.value, str)
    )
