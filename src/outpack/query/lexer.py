"""Tokens of the query language, and the positioned error messages.

Keywords are matched as prefixes, exactly as the reference's PEG grammar does:
`idx == 1` is the lookup `id` followed by junk at column 3, not an unknown word at
column 1. That keeps our error positions equal to the reference's.
"""

from __future__ import annotations

import re
from typing import Final

from outpack.errors import QueryParseError

# Token kinds; small strings so that tokens are cheap tuples.
STRING: Final = "STRING"
NUMBER: Final = "NUMBER"
PREFIXED: Final = "PREFIXED"
KEYWORD: Final = "KEYWORD"
AND: Final = "AND"
OR: Final = "OR"
OP: Final = "OP"
LPAREN: Final = "LPAREN"
RPAREN: Final = "RPAREN"
LBRACE: Final = "LBRACE"
RBRACE: Final = "RBRACE"
COMMA: Final = "COMMA"
WORD: Final = "WORD"
ERROR: Final = "ERROR"
EOF: Final = "EOF"

WHITESPACE: Final = " \t\r\n"

# Token patterns, shared by the two tokenizers below so that they cannot drift apart.
_STRING_PATTERN = r""""[^"\\]*"|'[^'\\]*'"""
_NUMBER_PATTERN = r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
_PREFIXED_PATTERN = r"(?:parameter|this|environment):(?:[ \t\r\n]*[A-Za-z0-9_]+)?"
_KEYWORD_PATTERN = r"id|name|latest|single|true|TRUE|True|false|FALSE|False|usedby|uses|depth"
_OP_PATTERN = r"[=!<>]{1,2}"
_WORD_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"

_TOKEN = re.compile(
    rf"""[ \t\r\n]*(?:
      (?P<STRING>{_STRING_PATTERN})
    | (?P<NUMBER>{_NUMBER_PATTERN})
    | (?P<PREFIXED>{_PREFIXED_PATTERN})
    | (?P<KEYWORD>{_KEYWORD_PATTERN})
    | (?P<AND>&&)
    | (?P<OR>\|\|)
    | (?P<OP>{_OP_PATTERN})
    | (?P<LPAREN>\()
    | (?P<RPAREN>\))
    | (?P<LBRACE>\{{)
    | (?P<RBRACE>\}})
    | (?P<COMMA>,)
    | (?P<WORD>{_WORD_PATTERN})
    | (?P<EOF>\Z)
    | (?P<ERROR>.)
    )""",
    re.VERBOSE | re.DOTALL,
)

# The same tokens as bare strings, for the parser's fast path (fastpath.py): `findall`
# makes no match objects, which is most of what tokenizing costs. A token's kind is
# plain from its text, positions are not needed there,
# and the end of the text shows as "" (once or twice). One difference: `()` is a
# single token, so that `latest()` and `latest( )` stay apart without positions.
BARE_TOKEN: Final = re.compile(
    r"[ \t\r\n]*("
    + "|".join(
        (
            _STRING_PATTERN,
            _NUMBER_PATTERN,
            _PREFIXED_PATTERN,
            _KEYWORD_PATTERN,
            r"&&|\|\|",
            _OP_PATTERN,
            r"\(\)?|[){},]",
            _WORD_PATTERN,
            r"\Z|.",
        )
    )
    + ")",
    re.DOTALL,
)

Token = tuple[str, int, int]


def tokenize(text: str) -> list[Token]:
    """(kind, start, end) for every token; the last is EOF, at the end of the text."""
    tokens: list[Token] = []
    append = tokens.append
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or ERROR
        append((kind, match.start(kind), match.end()))
        if kind == EOF:
            break
    return tokens


_CONTEXT = 60


def describe_position(text: str, pos: int, end: int | None = None) -> tuple[int, int, str]:
    """Line and column (both from 1) of `pos`, and the source line with a caret under it.

    Very long lines are cut to a window around the position so that a megabyte
    query gives a readable message.
    """
    line = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    if line_end < 0:
        line_end = len(text)
    column = pos - line_start + 1
    source = text[line_start:line_end].rstrip("\r")
    width = max(1, min((end if end is not None else pos + 1), line_end) - pos)
    offset = pos - line_start
    prefix = ""
    if offset > _CONTEXT:
        cut = offset - _CONTEXT
        source = "..." + source[cut:]
        offset = offset - cut + 3
        prefix = "..."
    if len(source) > offset + _CONTEXT + width:
        source = source[: offset + _CONTEXT + width] + "..."
    # Keep tabs in the padding so that the caret lines up under a tab-indented query.
    padding = "".join(ch if ch == "\t" else " " for ch in source[:offset])
    if prefix:
        padding = "   " + padding[3:]
    caret = padding + "^" * width
    return line, column, f"{source}\n{caret}"


def parse_error(text: str, pos: int, message: str, *, end: int | None = None) -> QueryParseError:
    """A QueryParseError whose message shows where the problem is and what was expected."""
    line, column, picture = describe_position(text, pos, end)
    return QueryParseError(
        f"Failed to parse query at line {line}, column {column}:\n{picture}\n{message}",
        query=text,
        position=pos,
        line=line,
        column=column,
        detail=message,
    )
