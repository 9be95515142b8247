"""The query parser facing hostile input: an AST or a parse error, nothing else.

No input may crash the parser with another exception (RecursionError,
IndexError, UnicodeError...), hang it, or make `search` fail unclearly. A hang
fails through pytest-timeout; how long these inputs take to parse (linear in
their size) is measured by `benchmarks/query_bench.py` (hostile inputs).
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outpack.config import CoreConfig, init_root
from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.query import parse_query, search
from outpack.query.ast import QueryNode
from outpack.query.evaluate import MAX_NESTING
from outpack.query.service import MAX_QUERY_LENGTH
from tests.query.grammar import near_misses, queries

NODE_TYPES = typing.get_args(QueryNode)
DEEP = 10_000
MEGABYTE = 1 << 20


def parse_outcome(text: str) -> QueryNode | QueryParseError:
    try:
        node = parse_query(text)
    except QueryParseError as err:
        assert isinstance(err, ValueError)
        assert str(err)
        return err
    assert isinstance(node, NODE_TYPES), type(node)
    result: QueryNode = node
    return result


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    parse_outcome(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("()!&|=<>'\" {}:.-+e0aZ\\\n\x00")), max_size=400))
def test_operator_soup(text: str) -> None:
    parse_outcome(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_misses())
def test_grammar_near_misses(text: str) -> None:
    parse_outcome(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries())
def test_valid_queries_parse(text: str) -> None:
    assert isinstance(parse_outcome(text), NODE_TYPES)


# Each hostile input, and whether it parses (True) or is a parse error (False).
DEEP_INPUTS = {
    "brackets": ("(" * DEEP + "name == 'a'" + ")" * DEEP, True),
    "negated": ("!(" * DEEP + "name == 'a'" + ")" * DEEP, True),
    "open": ("(" * DEEP, False),
    "close": (")" * DEEP, False),
    "unbalanced": ("(" * DEEP + "name == 'a'" + ")" * (DEEP - 1), False),
    "latest": ("latest(" * DEEP + ")" * DEEP, True),
    "braces": ("{" * DEEP + "}" * DEEP, False),
    "nots": ("!" * DEEP + "name == 'a'", False),
}
MEGABYTE_INPUTS = {
    "string": ("name == '" + "x" * MEGABYTE + "'", True),
    "unterminated": ("name == '" + "x" * MEGABYTE, False),
    "chain": (" || ".join(["name == 'a'"] * (MEGABYTE // 14)), True),
    "lookup": ("parameter:" + "a" * MEGABYTE + " == 1", True),
    "operators": ("&" * MEGABYTE, False),
    "unicode": ("é" * MEGABYTE, False),
}


@pytest.mark.parametrize("name", DEEP_INPUTS)
def test_deep_nesting(name: str) -> None:
    text, parses = DEEP_INPUTS[name]
    assert isinstance(parse_outcome(text), NODE_TYPES) is parses


@pytest.mark.parametrize("name", MEGABYTE_INPUTS)
def test_megabyte_queries(name: str) -> None:
    text, parses = MEGABYTE_INPUTS[name]
    assert len(text) >= MEGABYTE
    assert isinstance(parse_outcome(text), NODE_TYPES) is parses


@pytest.fixture(scope="module")
def empty_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = init_root(tmp_path_factory.mktemp("q") / "root", CoreConfig())
    return path


def test_search_refuses_megabyte_queries_clearly(empty_root: Path) -> None:
    text = "name == '" + "x" * MEGABYTE + "'"
    with pytest.raises(QueryParseError, match=f"the limit is {MAX_QUERY_LENGTH}"):
        search(empty_root, text)
    with pytest.raises(QueryParseError, match=f"the limit is {MAX_QUERY_LENGTH}"):
        search(empty_root, "name == 'a'", scope=text)


def test_search_unwraps_plain_brackets(empty_root: Path) -> None:
    """Brackets alone add no nesting: they are unwrapped, not recursed into."""
    assert search(empty_root, "(" * DEEP + "name == 'a'" + ")" * DEEP) == []


@pytest.mark.parametrize("opening", ["!(", "(!"])
def test_search_refuses_deep_nesting_clearly(empty_root: Path, opening: str) -> None:
    closing = ")" * opening.count("(")
    text = opening * DEEP + "name == 'a'" + closing * DEEP
    with pytest.raises(QueryEvaluationError, match=f"nested too deeply \\(more than {MAX_NESTING}"):
        search(empty_root, text)
