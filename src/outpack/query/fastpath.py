"""The parser's fast path: the same grammar over bare token strings (BARE_TOKEN),
for queries that parse cleanly. It gives up (returns None) at anything that would be an error
or that needs token positions, the `{...}` subqueries; `parser.parse_full` then decides,
so errors and their positions come from one place. It must never accept a query
that `parse_full` rejects, nor build a different AST: `tests/query/test_fastpath.py`
checks exactly that on generated queries, orderly2's extensions included, and the
differential tests go through here first.

Values, shortforms and frames come from `frames.py`, shared with the full parser.
"""

from __future__ import annotations

from typing import Final

from outpack.query.ast import (
    OPERATORS_BY_SYMBOL,
    BooleanOperator,
    Latest,
    Literal,
    QueryNode,
    Test,
    TestValue,
)
from outpack.query.frames import (
    BRACKETS,
    CLOSED_BY_PAREN,
    FUNCTIONS,
    GRAPH_FUNCTIONS,
    LATEST,
    TOP,
    Frame,
    id_shortform,
    keyword_value,
    prefixed_lookup,
    whole_query_shortform,
)
from outpack.query.lexer import BARE_TOKEN

__all__ = ["parse_fast"]

_NOT = -1
_OPENERS: Final = {"!": _NOT, "(": BRACKETS} | FUNCTIONS
_BOOLEAN_TOKENS: Final = {"&&": BooleanOperator.And, "||": BooleanOperator.Or}
_ARGUMENT_END: Final = (")", ",")
_QUOTE, _DIGIT, _SIGN = range(3)
_FIRST_CHARS: Final = {'"': _QUOTE, "'": _QUOTE, "+": _SIGN, "-": _SIGN} | dict.fromkeys(
    "0123456789", _DIGIT
)


def _bare_value(token: str) -> TestValue | None:
    kind = _FIRST_CHARS.get(token[:1])
    if kind is None:
        return prefixed_lookup(token) if ":" in token else keyword_value(token)
    # A lone quote or sign is an error token; longer ones are strings and numbers.
    if kind == _DIGIT or len(token) > 1:
        return Literal(token[1:-1] if kind == _QUOTE else float(token))
    return None


def _bare_test(tokens: list[str], i: int) -> Test | None:
    """The test `lhs op rhs` starting at `i`."""
    lhs = _bare_value(tokens[i])
    if lhs is None:
        return None
    operator = OPERATORS_BY_SYMBOL.get(tokens[i + 1])
    if operator is None:
        return None
    rhs = _bare_value(tokens[i + 2])
    return None if rhs is None else Test(operator, lhs, rhs)


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
        node = whole_query_shortform(first)
        if node is not None:
            return node
    return _parse_tokens(tokens)


# One flat loop over the tokens, on purpose: a helper call per token costs a good
# part of the parse time, and this loop is what keeps parsing near the Rust wheel's
# speed (benchmarks/query_bench.py --parse-only). Each give-up is one `return None`.
def _parse_tokens(tokens: list[str]) -> QueryNode | None:  # noqa: PLR0912
    stack: list[Frame] = []
    frame = Frame(TOP)
    primary = True  # a primary is expected, not an operator or a closing token
    i = 0
    while True:
        token = tokens[i]
        i += 1
        node: QueryNode | None
        if primary:
            opener = _OPENERS.get(token)
            if opener is None:
                node = _bare_test(tokens, i - 1)
                if node is None:
                    return None
                i += 2
            elif opener == _NOT:
                if frame.neg:  # `!` applies to a primary, not to another `!`
                    return None
                frame.neg = True
                continue
            elif opener == BRACKETS or tokens[i] == "(":
                stack.append(frame)
                frame = Frame(opener)
                if opener != BRACKETS:
                    i += 1
                    shortform = id_shortform(tokens[i]) if opener in GRAPH_FUNCTIONS else None
                    if shortform is not None and tokens[i + 1] in _ARGUMENT_END:
                        frame.add(shortform)  # allowed as the argument of usedby/uses
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
                frame.pending = boolean
                primary = True
                continue
            depth: float | None = None
            if token == "," and frame.kind in GRAPH_FUNCTIONS:
                found = _bare_depth(tokens, i)
                if found is None:
                    return None
                depth, i = found
            elif token != ")" or frame.kind not in CLOSED_BY_PAREN:
                return frame.result() if not token and frame.kind == TOP else None
            if not frame.argument_is_single_valued():
                return None
            node = frame.close(depth)
            frame = stack.pop()
        frame.add(node)
        primary = False
