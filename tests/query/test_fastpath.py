"""The fast path against the full parser: it returns nothing, or exactly the full parser's tree.

`parse_query` tries `fastpath.parse_fast` first and falls back to `parser.parse_full`,
which is the only place that reports errors. So the fast path must never accept a
query that the full parser rejects, nor build a different tree (or repr). The
differential tests check `parse_query` against the Rust parser, which rejects
orderly2's extensions; these tests cover those too: usedby/uses with depths and bare
ids, subqueries, named subqueries and the unquoted id shortform.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outpack.errors import QueryParseError
from outpack.query import QueryNode, Subquery, UsedBy, Uses, ast, parse_query
from outpack.query.fastpath import parse_fast
from outpack.query.parser import parse_full
from tests.query.grammar import QueryWriter, near_misses, queries


def fast_path_outcome(query: str) -> QueryNode | None:
    """The fast path's tree, after checking it against the full parser's."""
    fast = parse_fast(query)
    if fast is None:
        return None
    try:
        full = parse_full(query)
    except QueryParseError as error:
        raise AssertionError(f"fast path accepted {query!r}: {error}") from None
    assert repr(fast) == repr(full), query
    assert fast == full, query
    assert parse_query(query) == full, query
    return fast


EXTENSION_EXAMPLES = [
    'usedby(latest(name == "a"))',
    'usedby(latest(name == "a"), 2)',
    'uses(single(id == "20230807-152344-ee606dce"), depth = 3)',
    'usedby("20230807-152344-ee606dce")',
    'uses( "20230807-152344-ee606dce" , depth=1.5 )',
    'usedby(id == "x") && name == "b"',
    '!uses(latest(name == "a" || name == "b")) || latest()',
    'latest(usedby(latest(name == "a")) && name == "b")',
]


def test_the_fast_path_takes_orderly2_extensions_and_agrees() -> None:
    for query in EXTENSION_EXAMPLES:
        assert fast_path_outcome(query) is not None, query
    assert isinstance(parse_fast('usedby(latest(name == "a"), 2)'), UsedBy)
    assert isinstance(parse_fast('uses("20230807-152344-ee606dce")'), Uses)


def test_the_fast_path_gives_up_on_what_only_the_full_parser_handles() -> None:
    given_up = [
        "{name == 'a'}",  # subqueries need positions
        'usedby({name == "a"})',
        "{x}",
        "20230807-152344-ee606dce",  # the unquoted id, handled before either parser
        'usedby(name == "a")',  # not single-valued: an error
        'usedby(latest(name == "a"), 0)',  # depth not positive: an error
        'usedby(latest(name == "a"), depth 2)',
        'usedby"x"',
        "latest(",
        "",
    ]
    for query in given_up:
        assert parse_fast(query) is None, query
    assert isinstance(parse_full("{name == 'a'}"), Subquery)
    assert isinstance(parse_full("{x}"), ast.NamedSubquery)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries(extensions=True))
def test_generated_queries_with_extensions(query: str) -> None:
    fast_path_outcome(query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_misses(extensions=True))
def test_generated_near_misses_with_extensions(query: str) -> None:
    fast_path_outcome(query)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_many_written_queries_with_extensions(seed: int) -> None:
    writer = QueryWriter(random.Random(seed), bad_ops=True, extensions=True)
    for _ in range(15):
        fast_path_outcome(writer.query())
    for _ in range(25):
        fast_path_outcome(writer.near_miss())


def test_the_writer_exercises_the_fast_path_on_extensions() -> None:
    # The property above means little if the fast path gave up on every extension.
    writer = QueryWriter(random.Random(11), extensions=True)
    written = [writer.query() for _ in range(2000)]
    graph = [query for query in written if "usedby" in query or "uses" in query]
    taken = [query for query in graph if fast_path_outcome(query) is not None]
    assert len(taken) > len(graph) // 10 > 0
