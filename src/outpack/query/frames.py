"""What the two parsers share, written once: keywords and values, the shortforms,
the kinds of open construct, and the frame that builds the expression inside one.

The full parser (`parser.py`) reads positioned tokens, the fast path
(`fastpath.py`) bare token strings; both hand token text to the functions here.
"""

from __future__ import annotations

from typing import Final

from outpack.query.ast import (
    BooleanExpr,
    BooleanOperator,
    Brackets,
    Latest,
    Literal,
    LookupEnvironment,
    LookupId,
    LookupName,
    LookupParameter,
    LookupThis,
    Negation,
    QueryNode,
    Single,
    Subquery,
    Test,
    TestOperator,
    TestValue,
    UsedBy,
    Uses,
)
from outpack.query.lexer import WHITESPACE

BOOLEANS: Final = {
    "true": True,
    "TRUE": True,
    "True": True,
    "false": False,
    "FALSE": False,
    "False": False,
}
QUOTES: Final = ('"', "'")

# Kinds of open construct.
TOP, BRACKETS, LATEST, SINGLE, USEDBY, USES, SUBQUERY = range(7)
CLOSED_BY_PAREN = frozenset((BRACKETS, LATEST, SINGLE, USEDBY, USES))
FUNCTIONS: Final = {"latest": LATEST, "single": SINGLE, "usedby": USEDBY, "uses": USES}
# The functions whose argument must be single-valued, may be a bare id and may have a depth.
GRAPH_FUNCTIONS: Final = (USEDBY, USES)

# Field-less nodes are shared: one less allocation per lookup.
LOOKUP_ID = LookupId()
LOOKUP_NAME = LookupName()

_PREFIXED_LOOKUPS: Final[dict[str, type[LookupParameter | LookupThis | LookupEnvironment]]] = {
    "parameter": LookupParameter,
    "this": LookupThis,
    "environment": LookupEnvironment,
}


def keyword_value(word: str) -> TestValue | None:
    """The value a keyword stands for (`id`, `name`, `true`...), or None."""
    if word == "name":
        return LOOKUP_NAME
    if word == "id":
        return LOOKUP_ID
    boolean = BOOLEANS.get(word)
    return None if boolean is None else Literal(boolean)


def prefixed_lookup(token: str) -> TestValue | None:
    """`parameter:x`, `this:x`, `environment:x` (space allowed after the colon), or None."""
    prefix, colon, name = token.partition(":")
    lookup = _PREFIXED_LOOKUPS.get(prefix)
    if lookup is None or not colon:
        return None
    name = name.lstrip(WHITESPACE)
    return lookup(name) if name else None


def id_shortform(token: str) -> Test | None:
    """A quoted string standing alone means `id == "..."`; None for any other token.

    Allowed as the whole query and as the argument of usedby/uses (followed by `)`
    or `,`), nowhere else."""
    if token[:1] in QUOTES and len(token) > 1:
        return Test(TestOperator.Equal, LOOKUP_ID, Literal(token[1:-1]))
    return None


def whole_query_shortform(token: str) -> QueryNode | None:
    """The shortforms valid only as the whole query (one token): `latest` and a quoted id."""
    if token == "latest":
        return Latest(None)
    return id_shortform(token)


class Frame:
    """One open construct and the expression being built inside it.

    Precedence, tightest first: `!` (on one primary), `&&`, `||`; both binary
    operators are left-associative, so a frame keeps a left-deep `&&` chain and
    a left-deep `||` chain.
    """

    __slots__ = ("and_acc", "arg_start", "kind", "name", "neg", "or_acc", "pending")

    def __init__(self, kind: int, name: str = "", arg_start: int = 0) -> None:
        self.kind = kind
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

    def argument_is_single_valued(self) -> bool:
        """False for a usedby/uses whose argument may match several packets (an error)."""
        return self.kind not in GRAPH_FUNCTIONS or is_single_valued(self.result())

    def close(self, depth: float | None = None) -> QueryNode:
        """The node of the finished construct (any kind but TOP)."""
        body = self.result()
        kind = self.kind
        if kind == BRACKETS:
            return Brackets(body)
        if kind == LATEST:
            return Latest(body)
        if kind == SINGLE:
            return Single(body)
        if kind == SUBQUERY:
            return Subquery(body)
        return UsedBy(body, depth) if kind == USEDBY else Uses(body, depth)


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
