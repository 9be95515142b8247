"""The query parser: text to AST, with the reference's grammar plus the orderly2 extensions.

The grammar is in the spec (docs: shared/spec/query-language.md). The parser is a
loop over tokens with an explicit stack of open brackets and function calls, so
nesting depth is bounded only by memory, never by Python's recursion limit.

Precedence, tightest first: `!` (on one primary), `&&`, `||`; both binary
operators are left-associative. Each open construct (the whole query, a bracket,
a function call, a subquery) keeps its own left-deep `&&` chain and `||` chain.

Most queries take a fast path (`fastpath.parse_fast`) over bare token strings
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
from typing import Final

from outpack.query.ast import (
    OPERATORS_BY_SYMBOL,
    BooleanOperator,
    Brackets,
    Latest,
    Literal,
    LookupEnvironment,
    LookupId,
    LookupParameter,
    LookupThis,
    NamedSubquery,
    QueryNode,
    Single,
    Subquery,
    Test,
    TestOperator,
    TestValue,
    UsedBy,
    Uses,
)
from outpack.query.fastpath import parse_fast
from outpack.query.frames import (
    BOOLEANS,
    BRACKETS,
    CLOSED_BY_PAREN,
    FUNCTIONS,
    LATEST,
    LOOKUP_ID,
    LOOKUP_NAME,
    SINGLE,
    SUBQUERY,
    TOP,
    USEDBY,
    USES,
    Frame,
    is_single_valued,
)
from outpack.query.lexer import (
    AND,
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

# Where the parser is within an expression.
_BODY_START, _AFTER_BOOLEAN, _AFTER_NOT, _AFTER_PRIMARY = range(4)

_EXPECT_PRIMARY: Final = {
    _AFTER_BOOLEAN: "negation, brackets, function or test",
    _AFTER_NOT: "brackets, function or test",
}
_EXPECT_AFTER: Final = {
    TOP: "'&&', '||' or end of query",
    SUBQUERY: "'&&', '||' or '}'",
    USEDBY: "'&&', '||', ',' or ')'",
    USES: "'&&', '||', ',' or ')'",
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


def parse_query(text: str) -> QueryNode:
    """Parse a query; raises QueryParseError (a ValueError) with a positioned message."""
    if not isinstance(text, str):
        raise TypeError(f"query must be a string, not {type(text).__name__}")
    unquoted = (
        _UNQUOTED_ID.fullmatch(text) if text[:1].isdigit() or text[:1] in WHITESPACE else None
    )
    if unquoted:
        return Single(Test(TestOperator.Equal, LookupId(), Literal(unquoted.group(1))))
    node = parse_fast(text)
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
            return LOOKUP_ID
        if word == "name":
            return LOOKUP_NAME
        if word in BOOLEANS:
            return Literal(BOOLEANS[word])
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


def _close(frame: Frame, depth: float | None, semantic: list[tuple[int, int, str]]) -> QueryNode:
    body = frame.result()
    kind = frame.kind
    if kind == BRACKETS:
        return Brackets(body)
    if kind == LATEST:
        return Latest(body)
    if kind == SINGLE:
        return Single(body)
    if kind == SUBQUERY:
        return Subquery(body)
    if not is_single_valued(body):
        message = _SINGLE_VALUED_HINT.format(frame.name)
        semantic.append((frame.arg_start, frame.arg_start + 1, message))
    return UsedBy(body, depth) if kind == USEDBY else Uses(body, depth)


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
    stack: list[Frame] = []
    frame = Frame(TOP, 0)
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
                frame = Frame(BRACKETS, start)
                state = _BODY_START
                i += 1
                continue
            if kind == KEYWORD and text[start:end] in FUNCTIONS:
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
                    frame = Frame(FUNCTIONS[word], start, word, after_start)
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
                    frame = Frame(SUBQUERY, start)
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
                        raise _GrammarError(start, "query" if frame.kind == TOP else "body")
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
            if kind == RPAREN and frame_kind in CLOSED_BY_PAREN:
                node = _close(frame, None, semantic)
                i += 1
            elif kind == COMMA and frame_kind in (USEDBY, USES):
                depth, i = _parse_depth(text, tokens, i + 1, semantic)
                node = _close(frame, depth, semantic)
                i += 1
            elif kind == RBRACE and frame_kind == SUBQUERY:
                node = _close(frame, None, semantic)
                i += 1
            elif kind == EOF and frame_kind == TOP:
                return frame.result()
            else:
                raise _GrammarError(start, _EXPECT_AFTER.get(frame_kind, "'&&', '||' or ')'"))
            frame = stack.pop()
        frame.add(node)
        state = _AFTER_PRIMARY
