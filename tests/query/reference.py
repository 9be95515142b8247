"""Running `outpack_query_parser` (the Rust reference) side by side with our parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from outpack.errors import QueryParseError
from outpack.query import ast, parse_query

reference = pytest.importorskip("outpack_query_parser", reason="outpack-query-parser not installed")

_POSITION = re.compile(r"--> (\d+):(\d+)")
_EXTENSION_SYNTAX = re.compile(
    r"usedby|uses|[{}]|^[ \t\r\n]*[0-9]{8}-[0-9]{6}-[0-9a-fA-F]{8}[ \t\r\n]*$"
)


@dataclass(frozen=True)
class Outcome:
    """What a parser made of a query: an AST (as repr) or an error position."""

    accepted: bool
    node: ast.Node | None = None
    text: str = ""
    position: tuple[int, int] | None = None
    message: str = ""


def convert(node: Any) -> Any:
    """The reference's AST rebuilt from our classes (by class and field name)."""
    if node is None or isinstance(node, (str, float, bool, int)):
        return node
    name = type(node).__name__
    if name in ("TestOperator", "BooleanOperator"):
        return getattr(ast, name)(int(node))
    cls = getattr(ast, name)
    assert cls in ast.COMPATIBLE_NODES, name
    values = [convert(getattr(node, field)) for field in cls.__match_args__]
    return cls(*values)


def run_reference(query: str) -> Outcome:
    try:
        node = reference.parse_query(query)
    except ValueError as error:
        match = _POSITION.search(str(error))
        assert match, str(error)
        return Outcome(
            False,
            position=(int(match[1]), int(match[2])),
            message=str(error).splitlines()[-1],
        )
    return Outcome(True, convert(node), repr(node))


def run_ours(query: str) -> Outcome:
    try:
        node = parse_query(query)
    except QueryParseError as error:
        assert error.line is not None and error.column is not None and error.detail is not None
        return Outcome(False, position=(error.line, error.column), message=error.detail)
    return Outcome(True, node, repr(node))


def uses_extension(query: str) -> bool:
    return _EXTENSION_SYNTAX.search(query) is not None


def assert_same(query: str) -> Outcome:
    """Both parsers agree on `query`, except where our extensions are involved."""
    ref = run_reference(query)
    ours = run_ours(query)
    if uses_extension(query):
        if ref.accepted:
            assert ours.accepted, (query, ours)
            assert ours.text == ref.text
        return ours
    assert ours.accepted == ref.accepted, (query, ref, ours)
    if ref.accepted:
        assert ours.text == ref.text, query
        assert ours.node == ref.node, query
        assert _literal_types(ours.node) == _literal_types(ref.node), query
    else:
        assert ours.position == ref.position, (query, ref, ours)
        if "unknown infix operator" in ref.message:
            assert ours.message == ref.message.lstrip("= ")
    return ours


def _literal_types(node: ast.Node | None) -> list[str]:
    if node is None:
        return []
    return [type(n.value).__name__ for n in ast.iter_nodes(node) if isinstance(n, ast.Literal)]
