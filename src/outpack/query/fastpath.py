"""The parser's fast path: the same grammar over bare token strings (BARE_TOKEN),
for queries that parse cleanly. It gives up (returns None) at anything that would be an error
or that needs token positions, the `{...}` subqueries; `parser._parse_full` then decides,
so errors and their positions come from one place. It must never accept a query
that `_parse_full` rejects, nor build a different AST: the differential tests,
valid queries and near misses alike, go through here first.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from outpack.query.ast import (
    OPERATORS_BY_SYMBOL,
    BooleanExpr,
    BooleanOperator,
    Brackets,
    Latest,
    Literal,
    LookupEnvironment,
    LookupParameter,
    LookupThis,
    Negation,
    QueryNode,
    Single,
    Test,
    TestOperator,
    TestValue,
    UsedBy,
    Uses,
)
from outpack.query.frames import (
    BOOLEANS,
    BRACKETS,
    LATEST,
    LOOKUP_ID,
    LOOKUP_NAME,
    SINGLE,
    TOP,
    USEDBY,
    USES,
    is_single_valued,
)
from outpack.query.lexer import BARE_TOKEN, WHITESPACE

__all__ = ["parse_fast"]

_NOT = -1
_OPENERS: Final = {
    "!": _NOT,
    "(": BRACKETS,
    "latest": LATEST,
    "single": SINGLE,
    "usedby": USEDBY,
    "uses": USES,
}
_BOOLEAN_TOKENS: Final = {"&&": BooleanOperator.And, "||": BooleanOperator.Or}
_PREFIXED_LOOKUPS: Final[dict[str, type[LookupParameter | LookupThis | LookupEnvironment]]] = {
    "parameter": LookupParameter,
    "this": LookupThis,
    "environment": LookupEnvironment,
}
_QUOTE, _DIGIT, _SIGN = range(3)
_FIRST_CHARS: Final = {'"': _QUOTE, "'": _QUOTE, "+": _SIGN, "-": _SIGN} | dict.fromkeys(
    "0123456789", _DIGIT
)
_Saved: TypeAlias = tuple[int, bool, BooleanOperator | None, QueryNode | None, QueryNode | None]


def _bare_value(token: str) -> TestValue | None:
    kind = _FIRST_CHARS.get(token[:1])
    if kind is not None:
        # A lone quote or sign is an error token; longer ones are strings and numbers.
        if kind == _DIGIT or len(token) > 1:
            return Literal(token[1:-1] if kind == _QUOTE else float(token))
        return None
    if token == "name":
        return LOOKUP_NAME
    if token == "id":
        return LOOKUP_ID
    boolean = BOOLEANS.get(token)
    if boolean is not None:
        return Literal(boolean)
    prefix, colon, name = token.partition(":")
    lookup = _PREFIXED_LOOKUPS.get(prefix)
    if lookup is None or not colon:
        return None
    name = name.lstrip(WHITESPACE)
    return lookup(name) if name else None


def _bare_depth(tokens: list[str], i: int) -> tuple[float, int] | None:
    """The valid depth argument at `i`, and the index after its ')'."""
    token = tokens[i]
    if token == "depth":
        if tokens[i + 1] != "=":
            return None
        token = tokens[i + 2]
        i += 2
    kind = _FIRST_CHARS.get(token[:1])
    if kind == _DIGIT or (kind == _SIGN and len(token) > 1):
        depth = float(token)
        if depth > 0 and tokens[i + 1] == ")":
            return depth, i + 2
    return None


def parse_fast(text: str) -> QueryNode | None:
    tokens: list[str] = BARE_TOKEN.findall(text)
    first = tokens[0]
    if not first:
        return None
    if not tokens[1]:
        # The two shortforms, valid only as the whole query.
        if first == "latest":
            return Latest(None)
        if first[0] in "\"'" and len(first) > 1:
            return Test(TestOperator.Equal, LOOKUP_ID, Literal(first[1:-1]))
    stack: list[_Saved] = []
    # What a Frame holds, in locals because attribute access costs more; the
    # enclosing constructs wait on `stack` as tuples.
    kind = TOP
    neg = False
    pending: BooleanOperator | None = None
    and_acc: QueryNode | None = None
    or_acc: QueryNode | None = None
    primary = True  # a primary is expected, not an operator or a closing token
    may_negate = True
    i = 0
    while True:
        token = tokens[i]
        i += 1
        node: QueryNode
        if primary:
            opener = _OPENERS.get(token)
            if opener is None:
                lhs = _bare_value(token)
                if lhs is None:
                    return None
                operator = OPERATORS_BY_SYMBOL.get(tokens[i])
                if operator is None:
                    return None
                rhs = _bare_value(tokens[i + 1])
                if rhs is None:
                    return None
                node = Test(operator, lhs, rhs)
                i += 2
            elif opener == _NOT:
                if not may_negate:
                    return None
                neg = True
                may_negate = False
                continue
            elif opener == BRACKETS:
                stack.append((kind, neg, pending, and_acc, or_acc))
                kind, neg, pending, and_acc, or_acc = BRACKETS, False, None, None, None
                may_negate = True
                continue
            elif tokens[i] == "(":
                stack.append((kind, neg, pending, and_acc, or_acc))
                kind, neg, pending, and_acc, or_acc = opener, False, None, None, None
                may_negate = True
                i += 1
                argument = tokens[i]
                if (
                    opener in (USEDBY, USES)
                    and argument[:1] in ("'", '"')
                    and len(argument) > 1
                    and tokens[i + 1] in (")", ",")
                ):
                    # The id shortform, allowed as the argument of usedby/uses.
                    and_acc = Test(TestOperator.Equal, LOOKUP_ID, Literal(argument[1:-1]))
                    primary = False
                    i += 1
                continue
            elif opener == LATEST and tokens[i] == "()":
                node = Latest(None)
                i += 1
            else:
                return None
        else:
            boolean = _BOOLEAN_TOKENS.get(token)
            if boolean is not None:
                pending = boolean
                primary = may_negate = True
                continue
            assert and_acc is not None
            body = and_acc if or_acc is None else BooleanExpr(BooleanOperator.Or, or_acc, and_acc)
            if token == ")":
                if kind == BRACKETS:
                    node = Brackets(body)
                elif kind == LATEST:
                    node = Latest(body)
                elif kind == SINGLE:
                    node = Single(body)
                elif kind in (USEDBY, USES) and is_single_valued(body):
                    node = UsedBy(body, None) if kind == USEDBY else Uses(body, None)
                else:
                    return None
            elif token == "," and kind in (USEDBY, USES) and is_single_valued(body):
                found = _bare_depth(tokens, i)
                if found is None:
                    return None
                depth, i = found
                node = UsedBy(body, depth) if kind == USEDBY else Uses(body, depth)
            elif not token and kind == TOP:
                return body
            else:
                return None
            kind, neg, pending, and_acc, or_acc = stack.pop()
        if neg:
            node = Negation(node)
            neg = False
        if pending is None:
            and_acc = node
        elif pending is BooleanOperator.And:
            assert and_acc is not None
            and_acc = BooleanExpr(BooleanOperator.And, and_acc, node)
            pending = None
        else:
            assert and_acc is not None
            or_acc = and_acc if or_acc is None else BooleanExpr(BooleanOperator.Or, or_acc, and_acc)
            and_acc = node
            pending = None
        primary = False
