"""Parser behaviour beyond the differential tests: AST shape, messages, extensions, limits."""

from __future__ import annotations

import pytest

from outpack.errors import QueryError, QueryParseError
from outpack.query import (
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
    Single,
    Subquery,
    Test,
    TestOperator,
    UsedBy,
    Uses,
    parse_query,
)


def test_equality_and_match_patterns_work_on_nodes() -> None:
    node = parse_query("name == 'foo'")
    assert node == Test(TestOperator.Equal, LookupName(), Literal("foo"))
    match node:
        case Test(TestOperator.Equal, LookupName(), Literal(value)):
            assert value == "foo"
        case _:
            pytest.fail("match pattern did not apply")


def test_repr_matches_the_reference_style() -> None:
    assert repr(parse_query('name == "a"')) == (
        "Test(operator=TestOperator.Equal, lhs=LookupName(), rhs=Literal(value='a'))"
    )
    assert repr(BooleanOperator.Or) == str(BooleanOperator.Or) == "BooleanOperator.Or"
    assert TestOperator.GreaterThanOrEqual == 5
    assert [int(op) for op in BooleanOperator] == [0, 1]


def test_numbers_are_floats_and_literals_compare_by_type() -> None:
    assert parse_query("parameter:x == 2") == Test(
        TestOperator.Equal, LookupParameter("x"), Literal(2.0)
    )
    assert type(parse_query("parameter:x == 2").rhs.value) is float  # type: ignore[union-attr]
    assert Literal(True) != Literal(1.0)
    assert hash(parse_query("latest(id == 'a')")) == hash(parse_query("latest(id=='a')"))


def test_shortforms() -> None:
    assert parse_query("latest") == Latest(None) == parse_query(" latest() ")
    assert parse_query("'X'") == Test(TestOperator.Equal, LookupId(), Literal("X"))
    unquoted = parse_query(" 20230807-152344-ee606dce ")
    assert unquoted == Single(
        Test(TestOperator.Equal, LookupId(), Literal("20230807-152344-ee606dce"))
    )


def test_lookups() -> None:
    node = parse_query("this:a < environment: b")
    assert node == Test(TestOperator.LessThan, LookupThis("a"), LookupEnvironment("b"))


def test_precedence_and_associativity() -> None:
    a, b, c = (Test(TestOperator.Equal, LookupName(), Literal(x)) for x in "abc")
    text = 'name == "a" || name == "b" && name == "c"'
    assert parse_query(text) == BooleanExpr(
        BooleanOperator.Or, a, BooleanExpr(BooleanOperator.And, b, c)
    )
    text = 'name == "a" && name == "b" && name == "c"'
    assert parse_query(text) == BooleanExpr(
        BooleanOperator.And, BooleanExpr(BooleanOperator.And, a, b), c
    )
    assert parse_query('!(!name == "a")') == Negation(Brackets(Negation(a)))


def _error(query: str) -> QueryParseError:
    with pytest.raises(QueryParseError) as caught:
        parse_query(query)
    return caught.value


def test_error_message_shows_line_column_caret_and_expectation() -> None:
    error = _error('name =! "123"')
    assert isinstance(error, ValueError)
    assert isinstance(error, QueryError)
    assert str(error) == (
        "Failed to parse query at line 1, column 6:\n"
        'name =! "123"\n'
        "     ^^\n"
        "Encountered unknown infix operator: =!"
    )
    assert "expected query" in str(_error("foo"))
    assert "expected body" in str(_error("single()"))


def test_error_fields_say_where_for_programs() -> None:
    error = _error('name == "a" &&\n  && name == "b"')
    assert (error.line, error.column, error.position) == (2, 3, 17)
    assert error.query == 'name == "a" &&\n  && name == "b"'
    assert error.detail == "expected negation, brackets, function or test"
    assert str(error).endswith(error.detail)
    unplaced = QueryParseError("Query is too long")
    assert (unplaced.line, unplaced.column, unplaced.position, unplaced.detail) == (None,) * 4


def test_error_position_on_a_later_line() -> None:
    error = _error('name == "a" &&\n  && name == "b"')
    assert str(error).splitlines()[:3] == [
        "Failed to parse query at line 2, column 3:",
        '  && name == "b"',
        "  ^",
    ]


def test_error_lines_are_cut_around_the_position() -> None:
    query = 'name == "x" && ' * 20_000 + "oops"
    message = str(_error(query))
    assert "column 300001" in message
    assert max(len(line) for line in message.splitlines()) < 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'usedby(latest(name == "a"))',
            UsedBy(Latest(Test(TestOperator.Equal, LookupName(), Literal("a"))), None),
        ),
        (
            'uses(single(id == "x"), 2)',
            Uses(Single(Test(TestOperator.Equal, LookupId(), Literal("x"))), 2.0),
        ),
        (
            'uses(id == "x", depth = 3)',
            Uses(Test(TestOperator.Equal, LookupId(), Literal("x")), 3.0),
        ),
        ("usedby('x')", UsedBy(Test(TestOperator.Equal, LookupId(), Literal("x")), None)),
        ("usedby(latest())", UsedBy(Latest(None), None)),
        ("{reports}", NamedSubquery("reports")),
        ('{ name == "a" }', Subquery(Test(TestOperator.Equal, LookupName(), Literal("a")))),
    ],
)
def test_extensions(query: str, expected: object) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            'usedby(name == "a")',
            "usedby must be called on an expression guaranteed to return a single ID",
        ),
        ('uses(!latest(name == "a"))', "uses must be called on an expression guaranteed"),
        ('usedby(id != "a")', "usedby must be called"),
        ("usedby(latest() && latest())", "usedby must be called"),
        ("usedby(latest)", "expected latest() or latest(...)"),
        ("usedby(latest(), 0)", "depth must be a positive number, not 0"),
        ("usedby(latest(), -2)", "depth must be a positive number"),
        ("usedby(latest(), depth 2)", "expected '='"),
        ("usedby(latest(), 'x')", "expected depth"),
        ('name == "a" || 20230807-152344-ee606dce', "expected"),
        ("{", "expected body"),
        ("{name == 'a'", "expected '&&', '||' or '}'"),
    ],
)
def test_extension_errors(query: str, message: str) -> None:
    assert message in str(_error(query))


def test_deep_nesting_parses_without_recursion() -> None:
    depth = 10_000
    node = parse_query("(" * depth + 'name == "a"' + ")" * depth)
    assert node == parse_query("(" * depth + 'name == "a"' + ")" * depth)
    assert repr(node).startswith("Brackets(inner=Brackets(")
    assert hash(node) == hash(parse_query("(" * depth + "name=='a'" + ")" * depth))
    assert node.to_json().count('"Brackets"') == depth
    error = _error("(" * depth + 'name == "a"' + ")" * (depth - 1))
    assert f"column {2 * depth + 11}" in str(error)


def test_a_megabyte_query_is_handled() -> None:
    # Its parse time, against a linear scan of the same text, is in
    # `benchmarks/query_bench.py` (hostile inputs).
    query = " || ".join(f'name == "n{i}"' for i in range(80_000))
    assert len(query) > 1_000_000
    node = parse_query(query)
    assert isinstance(node, BooleanExpr)
    assert len(repr(node)) > len(query)
    assert node == parse_query(query)
    assert "expected" in str(_error(query + " &&"))


def test_non_string_query_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_query(42)  # type: ignore[arg-type]
