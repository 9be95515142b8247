"""The query parser: text to AST, with the reference's grammar plus the orderly2 extensions.

The grammar is in the spec (docs: shared/spec/query-language.md). The parser is a
loop over tokens with an explicit stack of open brackets and function calls, so
nesting depth is bounded only by memory, never by Python's recursion limit.

Each open construct (the whole query, a bracket, a function call, a subquery)
builds its expression in a `frames.Frame`, which also holds the precedence rules.

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
    Latest,
    Literal,
    LookupId,
    NamedSubquery,
    QueryNode,
    Single,
    Test,
    TestOperator,
    TestValue,
)
from outpack.query.fastpath import parse_fast
from outpack.query.frames import (
    BRACKETS,
    CLOSED_BY_PAREN,
    FUNCTIONS,
    GRAPH_FUNCTIONS,
    SUBQUERY,
    TOP,
    USEDBY,
    USES,
    Frame,
    id_shortform,
    keyword_value,
    prefixed_lookup,
    whole_query_shortform,
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

_Semantic = list[tuple[int, int, str]]


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
    return parse_full(text) if node is None else node


def parse_full(text: str) -> QueryNode:
    """The full parser alone, without the fast path or the unquoted id shortform: what
    `parse_query` falls back to, and what the tests hold the fast path to."""
    tokens = tokenize(text)
    _, first_start, first_end = tokens[0]
    first = text[first_start:first_end]
    if len(tokens) == 2 and tokens[1][0] == EOF:
        shortform = whole_query_shortform(first)
        if shortform is not None:
            return shortform
    parser = _Parser(text, tokens)
    try:
        node = parser.run()
    except _GrammarError as fail:
        pos, expected = fail.pos, fail.expected
        if whole_query_shortform(first) is not None:
            # The shortform alternatives got as far as the second token.
            shortform_end = tokens[1][1] if len(tokens) > 1 else len(text)
            if shortform_end > pos:
                pos, expected = shortform_end, "end of query"
            elif shortform_end == pos and "end of query" not in expected:
                expected = f"{expected} or end of query"
        raise parse_error(text, pos, f"expected {expected}") from None
    if parser.semantic:
        pos, end, message = min(parser.semantic)
        raise parse_error(text, pos, message, end=end)
    return node


def _value(text: str, token: Token) -> TestValue | None:
    kind, start, end = token
    if kind == STRING:
        return Literal(text[start + 1 : end - 1])
    if kind == NUMBER:
        return Literal(float(text[start:end]))
    if kind == KEYWORD:
        return keyword_value(text[start:end])
    if kind != PREFIXED:
        return None
    lookup = prefixed_lookup(text[start:end])
    if lookup is None:
        # The name after the colon is missing.
        after = text.index(":", start, end) + 1
        while after < len(text) and text[after] in WHITESPACE:
            after += 1
        raise _GrammarError(after, "identifier")
    return lookup


def _parse_depth(text: str, tokens: list[Token], i: int, semantic: _Semantic) -> tuple[float, int]:
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


class _Parser:
    """A loop over the tokens with a stack of open constructs; each step reads one
    primary (or opens a construct) or what follows one (or closes a construct).

    Grammar errors raise _GrammarError; errors found once the grammar is satisfied
    are collected in `semantic` as (start, end, message).
    """

    __slots__ = ("frame", "i", "semantic", "stack", "state", "text", "tokens")

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.semantic: _Semantic = []
        self.stack: list[Frame] = []
        self.frame = Frame(TOP)
        self.state = _BODY_START
        self.i = 0

    def run(self) -> QueryNode:
        while True:
            if self.state != _AFTER_PRIMARY:
                node = self._primary()
            elif self.tokens[self.i][0] == EOF and self.frame.kind == TOP:
                return self.frame.result()
            else:
                node = self._after_primary()
            if node is not None:
                self.frame.add(node)
                self.state = _AFTER_PRIMARY

    def _open(self, frame: Frame) -> None:
        self.stack.append(self.frame)
        self.frame = frame
        self.state = _BODY_START

    def _primary(self) -> QueryNode | None:
        """The primary at the current token, or None after a `!` or an opening token."""
        kind, start, end = self.tokens[self.i]
        if kind == OP and self.text[start] == "!" and self.state != _AFTER_NOT:
            if end - start > 1:
                # `!!x`, `!=x`: the negation is fine, what follows it is not.
                raise _GrammarError(start + 1, _EXPECT_PRIMARY[_AFTER_NOT])
            self.frame.neg = True
            self.state = _AFTER_NOT
            self.i += 1
            return None
        if kind == LPAREN:
            self._open(Frame(BRACKETS))
            self.i += 1
            return None
        word = self.text[start:end]
        if kind == KEYWORD and word in FUNCTIONS:
            return self._function(word, start)
        if kind == LBRACE:
            return self._subquery(end)
        return self._test()

    def _function(self, word: str, start: int) -> QueryNode | None:
        tokens, i = self.tokens, self.i
        next_kind, _, next_end = tokens[i + 1]
        if next_kind != LPAREN:
            raise _GrammarError(
                start, f"{word}(...)" if word != "latest" else "latest() or latest(...)"
            )
        after_kind, after_start, after_end = tokens[i + 2]
        if word == "latest" and after_kind == RPAREN and after_start == next_end:
            self.i = i + 3
            return Latest(None)
        kind = FUNCTIONS[word]
        self._open(Frame(kind, word, after_start))
        self.i = i + 2
        argument = self.text[after_start:after_end]
        shortform = id_shortform(argument) if kind in GRAPH_FUNCTIONS else None
        if shortform is not None and tokens[i + 3][0] in (RPAREN, COMMA):
            self.frame.add(shortform)  # allowed as the argument of usedby/uses
            self.state = _AFTER_PRIMARY
            self.i += 1
        return None

    def _subquery(self, end: int) -> QueryNode | None:
        named = _NAMED_SUBQUERY.match(self.text, end)
        if named is None:
            self._open(Frame(SUBQUERY))
            self.i += 1
            return None
        stop = named.end()
        while self.tokens[self.i][1] < stop:
            self.i += 1
        return NamedSubquery(named.group(1))

    def _test(self) -> Test:
        text, tokens, i = self.text, self.tokens, self.i
        lhs = _value(text, tokens[i])
        if lhs is None:
            start = tokens[i][1]
            if self.state == _BODY_START:
                raise _GrammarError(start, "query" if self.frame.kind == TOP else "body")
            raise _GrammarError(start, _EXPECT_PRIMARY[self.state])
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
            self.semantic.append((op_start, op_end, message))
            operator = TestOperator.Equal
        self.i = i + 3
        return Test(operator, lhs, rhs)

    def _after_primary(self) -> QueryNode | None:
        """A boolean operator (None), or the token that closes the open construct."""
        kind, start, _ = self.tokens[self.i]
        if kind in (AND, OR):
            self.frame.pending = BooleanOperator.And if kind == AND else BooleanOperator.Or
            self.state = _AFTER_BOOLEAN
            self.i += 1
            return None
        frame = self.frame
        depth = None
        if kind == COMMA and frame.kind in GRAPH_FUNCTIONS:
            depth, self.i = _parse_depth(self.text, self.tokens, self.i + 1, self.semantic)
        elif not (
            (kind == RPAREN and frame.kind in CLOSED_BY_PAREN)
            or (kind == RBRACE and frame.kind == SUBQUERY)
        ):
            raise _GrammarError(start, _EXPECT_AFTER.get(frame.kind, "'&&', '||' or ')'"))
        self.i += 1
        if not frame.argument_is_single_valued():
            message = _SINGLE_VALUED_HINT.format(frame.name)
            self.semantic.append((frame.arg_start, frame.arg_start + 1, message))
        self.frame = self.stack.pop()
        return frame.close(depth)
