"""The query parser: text to AST, with the reference's grammar plus the orderly2 extensions.

The grammar is in the spec (docs: shared/spec/query-language.md). The parser is a
loop over tokens with an explicit stack of open brackets and function calls, so
nesting depth is bounded only by memory, never by Python's recursion limit.

Precedence, tightest first: `!` (on one primary), `&&`, `||`; both binary
operators are left-associative. Each open construct (the whole query, a bracket,
a function call, a subquery) keeps its own left-deep `&&` chain and `||` chain.

Most queries take a fast path (`_parse_fast`, at the end) over bare token strings
that only succeeds or gives up; the full parser handles whatever it gives up on
and is the only place that reports errors.

Error positions follow the reference (a PEG parser): the reported position is
the start of the construct that failed furthest into the text, e.g. the `latest`
in `a == 1 && latest x`, not the `x`. Errors found only once the whole query has
parsed (an unknown operator such as `=!`, a usedby argument that is not
single-valued, a bad depth) are reported after grammar errors, leftmost first,
which is also what the reference does for unknown operators.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from outpack.query.ast import (
    OPERATORS_BY_SYMBOL,
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
    NamedSubquery,
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
from outpack.query.lexer import (
    AND,
    BARE_TOKEN,
    COMMA,
    EOF,
    KEYWORD,
    LBRACE,
    LPAREN,
    NUMBER,
    OP,
    OR,
    PREFIXED,
    RBRACE,
    RPAREN,
    STRING,
    WHITESPACE,
    Token,
    parse_error,
    tokenize,
)

__all__ = ["parse_query"]

_UNQUOTED_ID = re.compile(r"[ \t\r\n]*([0-9]{8}-[0-9]{6}-[0-9a-fA-F]{8})[ \t\r\n]*")
_NAMED_SUBQUERY = re.compile(r"[ \t\r\n]*([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*\}")

_BOOLEANS: Final = {
    "true": True,
    "TRUE": True,
    "True": True,
    "false": False,
    "FALSE": False,
    "False": False,
}

# Kinds of open construct.
_TOP, _BRACKETS, _LATEST, _SINGLE, _USEDBY, _USES, _SUBQUERY = range(7)
_CLOSED_BY_PAREN = frozenset((_BRACKETS, _LATEST, _SINGLE, _USEDBY, _USES))
_FUNCTIONS: Final = {"latest": _LATEST, "single": _SINGLE, "usedby": _USEDBY, "uses": _USES}

# Where the parser is within an expression.
_BODY_START, _AFTER_BOOLEAN, _AFTER_NOT, _AFTER_PRIMARY = range(4)

_EXPECT_PRIMARY: Final = {
    _AFTER_BOOLEAN: "negation, brackets, function or test",
    _AFTER_NOT: "brackets, function or test",
}
_EXPECT_AFTER: Final = {
    _TOP: "'&&', '||' or end of query",
    _SUBQUERY: "'&&', '||' or '}'",
    _USEDBY: "'&&', '||', ',' or ')'",
    _USES: "'&&', '||', ',' or ')'",
}
_SINGLE_VALUED_HINT: Final = (
    "{} must be called on an expression guaranteed to return a single ID. "
    "Try wrapping expression in latest or single."
)


class _GrammarError(Exception):
    """A grammar error: where, and what the grammar would have accepted there."""

    def __init__(self, pos: int, expected: str) -> None:
        super().__init__(pos, expected)
        self.pos = pos
        self.expected = expected


class _Frame:
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
_LOOKUP_ID = LookupId()
_LOOKUP_NAME = LookupName()


def parse_query(text: str) -> QueryNode:
    """Parse a query; raises QueryParseError (a ValueError) with a positioned message."""
    if not isinstance(text, str):
        raise TypeError(f"query must be a string, not {type(text).__name__}")
    unquoted = (
        _UNQUOTED_ID.fullmatch(text) if text[:1].isdigit() or text[:1] in WHITESPACE else None
    )
    if unquoted:
        return Single(Test(TestOperator.Equal, LookupId(), Literal(unquoted.group(1))))
    node = _parse_fast(text)
    return _parse_full(text) if node is None else node


def _parse_full(text: str) -> QueryNode:
    tokens = tokenize(text)
    first_kind, first_start, first_end = tokens[0]
    if len(tokens) == 2 and tokens[1][0] == EOF:
        # The two shortforms, valid only as the whole query.
        if first_kind == KEYWORD and text[first_start:first_end] == "latest":
            return Latest(None)
        if first_kind == STRING:
            return Test(
                TestOperator.Equal, LookupId(), Literal(text[first_start + 1 : first_end - 1])
            )
    semantic: list[tuple[int, int, str]] = []
    try:
        node = _parse(text, tokens, semantic)
    except _GrammarError as fail:
        pos, expected = fail.pos, fail.expected
        if first_kind == STRING or (
            first_kind == KEYWORD and text[first_start:first_end] == "latest"
        ):
            # The shortform alternatives got as far as the second token.
            shortform_end = tokens[1][1] if len(tokens) > 1 else len(text)
            if shortform_end > pos:
                pos, expected = shortform_end, "end of query"
            elif shortform_end == pos and "end of query" not in expected:
                expected = f"{expected} or end of query"
        raise parse_error(text, pos, f"expected {expected}") from None
    if semantic:
        pos, end, message = min(semantic)
        raise parse_error(text, pos, message, end=end)
    return node


def _value(text: str, token: Token) -> TestValue | None:
    kind, start, end = token
    if kind == STRING:
        return Literal(text[start + 1 : end - 1])
    if kind == NUMBER:
        return Literal(float(text[start:end]))
    if kind == KEYWORD:
        word = text[start:end]
        if word == "id":
            return _LOOKUP_ID
        if word == "name":
            return _LOOKUP_NAME
        if word in _BOOLEANS:
            return Literal(_BOOLEANS[word])
        return None
    if kind == PREFIXED:
        colon = text.index(":", start, end)
        prefix = text[start:colon]
        name = text[colon + 1 : end].lstrip(WHITESPACE)
        if not name:
            after = colon + 1
            while after < len(text) and text[after] in WHITESPACE:
                after += 1
            raise _GrammarError(after, "identifier")
        if prefix == "parameter":
            return LookupParameter(name)
        if prefix == "this":
            return LookupThis(name)
        return LookupEnvironment(name)
    return None


def _is_single_valued(node: QueryNode) -> bool:
    if isinstance(node, (Latest, Single)):
        return True
    return (
        isinstance(node, Test)
        and node.operator is TestOperator.Equal
        and isinstance(node.lhs, LookupId)
        and isinstance(node.rhs, Literal)
        and isinstance(node.rhs.value, str)
    )


def _close(frame: _Frame, depth: float | None, semantic: list[tuple[int, int, str]]) -> QueryNode:
    body = frame.result()
    kind = frame.kind
    if kind == _BRACKETS:
        return Brackets(body)
    if kind == _LATEST:
        return Latest(body)
    if kind == _SINGLE:
        return Single(body)
    if kind == _SUBQUERY:
        return Subquery(body)
    if not _is_single_valued(body):
        message = _SINGLE_VALUED_HINT.format(frame.name)
        semantic.append((frame.arg_start, frame.arg_start + 1, message))
    return UsedBy(body, depth) if kind == _USEDBY else Uses(body, depth)


def _parse_depth(
    text: str, tokens: list[Token], i: int, semantic: list[tuple[int, int, str]]
) -> tuple[float, int]:
    """The depth argument after the comma at `i`; returns it and the index of the ')'."""
    kind, start, end = tokens[i]
    if kind == KEYWORD and text[start:end] == "depth":
        i += 1
        kind, start, end = tokens[i]
        if kind != OP or text[start:end] != "=":
            raise _GrammarError(start, "'='")
        i += 1
        kind, start, end = tokens[i]
    if kind != NUMBER:
        raise _GrammarError(start, "depth (a positive number)")
    depth = float(text[start:end])
    if not depth > 0:
        semantic.append((start, end, f"depth must be a positive number, not {text[start:end]}"))
    if tokens[i + 1][0] != RPAREN:
        raise _GrammarError(tokens[i + 1][1], "')'")
    return depth, i + 1


def _parse(text: str, tokens: list[Token], semantic: list[tuple[int, int, str]]) -> QueryNode:
    stack: list[_Frame] = []
    frame = _Frame(_TOP, 0)
    state = _BODY_START
    i = 0
    while True:
        kind, start, end = tokens[i]
        node: QueryNode | None = None
        if state != _AFTER_PRIMARY:
            if kind == OP and text[start] == "!" and state != _AFTER_NOT:
                if end - start > 1:
                    # `!!x`, `!=x`: the negation is fine, what follows it is not.
                    raise _GrammarError(start + 1, _EXPECT_PRIMARY[_AFTER_NOT])
                frame.neg = True
                state = _AFTER_NOT
                i += 1
                continue
            if kind == LPAREN:
                stack.append(frame)
                frame = _Frame(_BRACKETS, start)
                state = _BODY_START
                i += 1
                continue
            if kind == KEYWORD and text[start:end] in _FUNCTIONS:
                word = text[start:end]
                next_kind, _, next_end = tokens[i + 1]
                if next_kind != LPAREN:
                    raise _GrammarError(
                        start, f"{word}(...)" if word != "latest" else "latest() or latest(...)"
                    )
                after_kind, after_start, after_end = tokens[i + 2]
                if word == "latest" and after_kind == RPAREN and after_start == next_end:
                    node = Latest(None)
                    i += 3
                else:
                    stack.append(frame)
                    frame = _Frame(_FUNCTIONS[word], start, word, after_start)
                    i += 2
                    state = _BODY_START
                    if (
                        after_kind == STRING
                        and word in ("usedby", "uses")
                        and tokens[i + 1][0] in (RPAREN, COMMA)
                    ):
                        # The id shortform, allowed as the argument of usedby/uses.
                        value = text[after_start + 1 : after_end - 1]
                        frame.add(Test(TestOperator.Equal, LookupId(), Literal(value)))
                        state = _AFTER_PRIMARY
                        i += 1
                    continue
            elif kind == LBRACE:
                named = _NAMED_SUBQUERY.match(text, end)
                if named is None:
                    stack.append(frame)
                    frame = _Frame(_SUBQUERY, start)
                    state = _BODY_START
                    i += 1
                    continue
                node = NamedSubquery(named.group(1))
                stop = named.end()
                while tokens[i][1] < stop:
                    i += 1
            else:
                lhs = _value(text, tokens[i])
                if lhs is None:
                    if state == _BODY_START:
                        raise _GrammarError(start, "query" if frame.kind == _TOP else "body")
                    raise _GrammarError(start, _EXPECT_PRIMARY[state])
                op_kind, op_start, op_end = tokens[i + 1]
                if op_kind != OP:
                    raise _GrammarError(op_start, "comparison operator")
                rhs = _value(text, tokens[i + 2])
                if rhs is None:
                    raise _GrammarError(tokens[i + 2][1], "lookup or literal")
                symbol = text[op_start:op_end]
                operator = OPERATORS_BY_SYMBOL.get(symbol)
                if operator is None:
                    message = f"Encountered unknown infix operator: {symbol}"
                    semantic.append((op_start, op_end, message))
                    operator = TestOperator.Equal
                node = Test(operator, lhs, rhs)
                i += 3
        else:
            if kind in (AND, OR):
                frame.pending = BooleanOperator.And if kind == AND else BooleanOperator.Or
                state = _AFTER_BOOLEAN
                i += 1
                continue
            frame_kind = frame.kind
            if kind == RPAREN and frame_kind in _CLOSED_BY_PAREN:
                node = _close(frame, None, semantic)
                i += 1
            elif kind == COMMA and frame_kind in (_USEDBY, _USES):
                depth, i = _parse_depth(text, tokens, i + 1, semantic)
                node = _close(frame, depth, semantic)
                i += 1
            elif kind == RBRACE and frame_kind == _SUBQUERY:
                node = _close(frame, None, semantic)
                i += 1
            elif kind == EOF and frame_kind == _TOP:
                return frame.result()
            else:
                raise _GrammarError(start, _EXPECT_AFTER.get(frame_kind, "'&&', '||' or ')'"))
            frame = stack.pop()
        frame.add(node)
        state = _AFTER_PRIMARY


# The fast path: the same grammar over bare token strings (BARE_TOKEN), for queries
# that parse cleanly. It gives up (returns None) at anything that would be an error
# or that needs token positions, the `{...}` subqueries; `_parse_full` then decides,
# so errors and their positions come from one place. It must never accept a query
# that `_parse_full` rejects, nor build a different AST: the differential tests,
# valid queries and near misses alike, go through here first.

_NOT = -1
_OPENERS: Final = {
    "!": _NOT,
    "(": _BRACKETS,
    "latest": _LATEST,
    "single": _SINGLE,
    "usedby": _USEDBY,
    "uses": _USES,
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
        return _LOOKUP_NAME
    if token == "id":
        return _LOOKUP_ID
    boolean = _BOOLEANS.get(token)
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


def _parse_fast(text: str) -> QueryNode | None:
    tokens: list[str] = BARE_TOKEN.findall(text)
    first = tokens[0]
    if not first:
        return None
    if not tokens[1]:
        # The two shortforms, valid only as the whole query.
        if first == "latest":
            return Latest(None)
        if first[0] in "\"'" and len(first) > 1:
            return Test(TestOperator.Equal, _LOOKUP_ID, Literal(first[1:-1]))
    stack: list[_Saved] = []
    # What a _Frame holds, in locals because attribute access costs more; the
    # enclosing constructs wait on `stack` as tuples.
    kind = _TOP
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
            elif opener == _BRACKETS:
                stack.append((kind, neg, pending, and_acc, or_acc))
                kind, neg, pending, and_acc, or_acc = _BRACKETS, False, None, None, None
                may_negate = True
                continue
            elif tokens[i] == "(":
                stack.append((kind, neg, pending, and_acc, or_acc))
                kind, neg, pending, and_acc, or_acc = opener, False, None, None, None
                may_negate = True
                i += 1
                argument = tokens[i]
                if (
                    opener in (_USEDBY, _USES)
                    and argument[:1] in ("'", '"')
                    and len(argument) > 1
                    and tokens[i + 1] in (")", ",")
                ):
                    # The id shortform, allowed as the argument of usedby/uses.
                    and_acc = Test(TestOperator.Equal, _LOOKUP_ID, Literal(argument[1:-1]))
                    primary = False
                    i += 1
                continue
            elif opener == _LATEST and tokens[i] == "()":
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
                if kind == _BRACKETS:
                    node = Brackets(body)
                elif kind == _LATEST:
                    node = Latest(body)
                elif kind == _SINGLE:
                    node = Single(body)
                elif kind in (_USEDBY, _USES) and _is_single_valued(body):
                    node = UsedBy(body, None) if kind == _USEDBY else Uses(body, None)
                else:
                    return None
            elif token == "," and kind in (_USEDBY, _USES) and _is_single_valued(body):
                found = _bare_depth(tokens, i)
                if found is None:
                    return None
                depth, i = found
                node = UsedBy(body, depth) if kind == _USEDBY else Uses(body, depth)
            elif not token and kind == _TOP:
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
