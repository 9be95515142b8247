"""Evaluating a parsed query against a QueryIndex.

Results are sets of ids, all within the *searched set* (every indexed packet, or
the subset the caller allows). Rules, from the spec:

* `latest(Q)` is the greatest id of Q's result, `latest()` the greatest searched id;
* `single(Q)` must find exactly one packet;
* `&&` intersects, `||` unites, `!Q` is the searched set minus Q's result;
* comparisons are typed: numbers compare as floats, strings and booleans only
  equal their own type, ordering holds only between two numbers, `==` across
  types is false and `!=` true; an absent value makes every comparison false;
* `usedby(Q, n)` / `uses(Q, n)` walk the dependency graph from Q's one packet.

Tests answered from the index cost a dict lookup; `a && b && c` is evaluated as
one chain (smallest set first, negated operands subtracted rather than
complemented), so boolean operators and negation stay linear in the sizes of the
sets involved.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from outpack.errors import QueryEvaluationError
from outpack.query.ast import (
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
    Node,
    QueryNode,
    Single,
    Subquery,
    Test,
    TestOperator,
    TestValue,
    UsedBy,
    Uses,
    iter_nodes,
)
from outpack.query.index import QueryIndex, ValueKey, value_key

__all__ = ["MAX_NESTING", "evaluate", "validate_lookups"]

# Brackets and `&&`/`||` chains are walked without recursion; this bounds the
# remaining nesting (negations, function calls), far beyond any real query.
MAX_NESTING = 250

_Ids = set[str] | frozenset[str]

_ORDERING: dict[TestOperator, Callable[[Any, Any], bool]] = {
    TestOperator.LessThan: operator.lt,
    TestOperator.LessThanOrEqual: operator.le,
    TestOperator.GreaterThan: operator.gt,
    TestOperator.GreaterThanOrEqual: operator.ge,
}
_FLIPPED = {
    TestOperator.Equal: TestOperator.Equal,
    TestOperator.NotEqual: TestOperator.NotEqual,
    TestOperator.LessThan: TestOperator.GreaterThan,
    TestOperator.LessThanOrEqual: TestOperator.GreaterThanOrEqual,
    TestOperator.GreaterThan: TestOperator.LessThan,
    TestOperator.GreaterThanOrEqual: TestOperator.LessThanOrEqual,
}

_NUMBER_TYPES = (int, float)
_ABSENT = object()
_NO_SUBQUERIES: Mapping[str, QueryNode] = {}


def compare(op: TestOperator, lhs: ValueKey | None, rhs: ValueKey | None) -> bool:
    """The typed comparison of two values (as `value_key`s; None means absent)."""
    if lhs is None or rhs is None:
        return False
    if op is TestOperator.Equal:
        return lhs == rhs
    if op is TestOperator.NotEqual:
        return lhs != rhs
    if lhs[0] == "number" and rhs[0] == "number":
        return _ORDERING[op](lhs[1], rhs[1])
    return False


@dataclass
class _Context:
    index: QueryIndex
    searched: Collection[str] | None
    this: Mapping[str, object] | None
    environment: Mapping[str, object] | None
    subqueries: Mapping[str, QueryNode]
    subquery_results: dict[str, set[str] | frozenset[str]] = field(default_factory=dict)

    @property
    def universe(self) -> Collection[str]:
        return self.index.ids if self.searched is None else self.searched

    def restrict(self, ids: set[str] | frozenset[str]) -> set[str] | frozenset[str]:
        if self.searched is None:
            return ids
        if len(ids) > len(self.searched):
            return set(self.searched).intersection(ids)
        return {packet_id for packet_id in ids if packet_id in self.searched}


def validate_lookups(
    node: Node,
    *,
    this: Mapping[str, object] | None,
    environment: Mapping[str, object] | None,
    subqueries: Mapping[str, QueryNode] | None,
) -> None:
    """Raise the errors that depend only on the query and the caller, never on the data."""
    pending: list[tuple[Node, tuple[str, ...]]] = [(node, ())]
    checked: set[str] = set()
    while pending:
        current, path = pending.pop()
        for item in iter_nodes(current):
            if isinstance(item, LookupThis):
                if this is None:
                    raise QueryEvaluationError("this parameters are not supported in this context")
                if item.name not in this:
                    raise QueryEvaluationError(
                        f"Parameter `{item.name}` was not found in current packet"
                    )
            elif isinstance(item, LookupEnvironment):
                if environment is None:
                    raise QueryEvaluationError(
                        "environment lookup is not supported in this context"
                    )
                if item.name not in environment:
                    raise QueryEvaluationError(f"Environment variable `{item.name}` was not found")
            elif isinstance(item, NamedSubquery):
                name = item.name
                if name in path:
                    cycle = " -> ".join((*path, name))
                    raise QueryEvaluationError(f"Subquery {{{name}}} refers to itself ({cycle})")
                if subqueries is None or name not in subqueries:
                    raise QueryEvaluationError(f"Unknown subquery {{{name}}}")
                if name not in checked or name in path:
                    checked.add(name)
                    pending.append((subqueries[name], (*path, name)))


def evaluate(  # noqa: PLR0913  # the public API: keyword-only options, as in search()
    node: QueryNode,
    index: QueryIndex,
    *,
    searched: Collection[str] | None = None,
    this: Mapping[str, object] | None = None,
    environment: Mapping[str, object] | None = None,
    subqueries: Mapping[str, QueryNode] | None = None,
) -> set[str] | frozenset[str]:
    """The ids `node` finds; `searched` (default: every indexed packet) bounds them all.

    The returned set may belong to the index: copy it before changing it.
    """
    validate_lookups(node, this=this, environment=environment, subqueries=subqueries)
    context = _Context(index, searched, this, environment, subqueries or _NO_SUBQUERIES)
    return _eval(node, context, 0)


def _unwrap(node: QueryNode) -> QueryNode:
    while isinstance(node, (Brackets, Subquery)):
        node = node.inner
    return node


def _operands(node: BooleanExpr) -> list[QueryNode]:
    """The operands of a chain of one operator, brackets looked through, left to right."""
    wanted = node.operator
    found: list[QueryNode] = []
    stack: list[QueryNode] = [node]
    while stack:
        item = _unwrap(stack.pop())
        if isinstance(item, BooleanExpr) and item.operator is wanted:
            stack.append(item.rhs)
            stack.append(item.lhs)
        else:
            found.append(item)
    return found


def _eval(node: QueryNode, context: _Context, depth: int) -> set[str] | frozenset[str]:
    if depth > MAX_NESTING:
        raise QueryEvaluationError(f"Query is nested too deeply (more than {MAX_NESTING} levels)")
    node = _unwrap(node)
    if isinstance(node, Test):
        return _eval_test(node, context)
    evaluator = _EVALUATORS.get(type(node))
    if evaluator is None:  # pragma: no cover
        raise TypeError(f"Not a query node: {node!r}")
    return evaluator(node, context, depth)


def _eval_boolean(node: BooleanExpr, context: _Context, depth: int) -> set[str] | frozenset[str]:
    if node.operator is BooleanOperator.And:
        return _eval_and(_operands(node), context, depth)
    united: set[str] = set()
    for operand in _operands(node):
        united |= _eval(operand, context, depth + 1)
    return united


def _eval_negation(node: Negation, context: _Context, depth: int) -> set[str]:
    excluded = _eval(node.inner, context, depth + 1)
    return {packet_id for packet_id in context.universe if packet_id not in excluded}


def _eval_single(node: Single, context: _Context, depth: int) -> set[str] | frozenset[str]:
    found = _eval(node.inner, context, depth + 1)
    if len(found) != 1:
        raise QueryEvaluationError(f"Query found {len(found)} packets, but expected exactly one")
    return found


def _eval_named(node: NamedSubquery, context: _Context, depth: int) -> set[str] | frozenset[str]:
    cached = context.subquery_results.get(node.name)
    if cached is None:
        cached = _eval(context.subqueries[node.name], context, depth + 1)
        context.subquery_results[node.name] = cached
    return cached


def _deferrable(node: QueryNode) -> bool:
    """A parameter range or `!=` test: costly to list in full, cheap to check per packet."""
    if not isinstance(node, Test) or node.operator is TestOperator.Equal:
        return False
    lhs, rhs = node.lhs, node.rhs
    if isinstance(rhs, LookupParameter):
        lhs, rhs = rhs, lhs
    return isinstance(lhs, LookupParameter) and not isinstance(
        rhs, (LookupId, LookupName, LookupParameter)
    )


def _eval_and(operands: list[QueryNode], context: _Context, depth: int) -> _Ids:
    positive, negative, deferred = _partition(operands, context, depth)
    name = _name_tested(operands, context)
    if not positive and deferred:
        positive.append(_eval(deferred.pop(0), context, depth + 1))
    if not positive:
        excluded: set[str] = set().union(*negative)
        return {packet_id for packet_id in context.universe if packet_id not in excluded}
    positive.sort(key=len)
    result = positive[0]
    for other in positive[1:]:
        if not result:
            break
        result = result & other
    result = _apply_deferred(result, deferred, name, context)
    for other in negative:
        if not result:
            break
        result = result - other
    return result


def _partition(
    operands: list[QueryNode], context: _Context, depth: int
) -> tuple[list[_Ids], list[_Ids], list[Test]]:
    """The results of the positive and of the negated operands, and the deferred tests."""
    positive: list[_Ids] = []
    negative: list[_Ids] = []
    deferred: list[Test] = []
    for operand in operands:
        if isinstance(operand, Negation):
            negative.append(_eval(operand.inner, context, depth + 1))
        elif _deferrable(operand):
            assert isinstance(operand, Test)
            deferred.append(operand)
        else:
            positive.append(_eval(operand, context, depth + 1))
    return positive, negative, deferred


def _apply_deferred(
    result: _Ids, deferred: list[Test], name: str | None, context: _Context
) -> _Ids:
    """`result` narrowed by each deferred test, by whichever way is cheapest."""
    for test in deferred:
        if not result:
            break
        if name is not None:
            # Every candidate is called `name`: the (name, parameter) index has them all.
            parameter, op, key = _oriented(test, context)
            matching = (
                [] if key is None else _matching_sets(context.index, parameter, op, key, name)
            )
            result = result & set().union(*matching)
        elif _estimate(test, context) > 4 * len(result):
            # Checking each candidate beats listing every match once they are few.
            result = _filter(test, result, context)
        else:
            result = result & _eval_test(test, context)
    return result


def _name_tested(operands: list[QueryNode], context: _Context) -> str | None:
    """The name in a `name == "x"` operand of an `&&` chain, if there is one."""
    for operand in operands:
        if isinstance(operand, Test) and operand.operator is TestOperator.Equal:
            lhs, rhs = operand.lhs, operand.rhs
            if isinstance(rhs, LookupName):
                lhs, rhs = rhs, lhs
            if isinstance(lhs, LookupName) and not isinstance(rhs, (LookupId, LookupName)):
                value = _constant(rhs, context)
                if isinstance(value, str):
                    return value
    return None


def _oriented(node: Test, context: _Context) -> tuple[str, TestOperator, ValueKey | None]:
    """(parameter, operator, value) of a deferrable test, parameter on the left."""
    op, lhs, rhs = node.operator, node.lhs, node.rhs
    if isinstance(rhs, LookupParameter):
        lhs, rhs, op = rhs, lhs, _FLIPPED[op]
    assert isinstance(lhs, LookupParameter)
    return lhs.name, op, value_key(_constant(rhs, context))


def _estimate(node: Test, context: _Context) -> int:
    parameter, op, key = _oriented(node, context)
    if key is None:
        return 0
    return sum(len(ids) for ids in _matching_sets(context.index, parameter, op, key))


def _filter(node: Test, candidates: set[str] | frozenset[str], context: _Context) -> set[str]:
    parameter, op, key = _oriented(node, context)
    if key is None:
        return set()
    parameters = context.index.parameters
    ordering = _ORDERING.get(op)
    if ordering is not None:
        if key[0] != "number":
            return set()
        bound: Any = key[1]
        # type() rather than isinstance(): a bool is not a number here.
        return {
            packet_id
            for packet_id in candidates
            if type(value := parameters[packet_id].get(parameter)) in _NUMBER_TYPES
            and ordering(value, bound)
        }
    return {
        packet_id
        for packet_id in candidates
        if compare(op, value_key(parameters[packet_id].get(parameter)), key)
    }


def _eval_latest(node: Latest, context: _Context, depth: int) -> set[str] | frozenset[str]:
    inner = None if node.inner is None else _unwrap(node.inner)
    if inner is None:
        if context.searched is None:
            newest = context.index.latest()
            return set() if newest is None else {newest}
        return {max(context.searched)} if context.searched else set()
    if isinstance(inner, Negation):
        # latest(!Q): walk down from the newest id instead of building the complement.
        excluded = _eval(inner.inner, context, depth + 1)
        searched = context.searched
        for packet_id in reversed(context.index.sorted_ids()):
            if packet_id not in excluded and (searched is None or packet_id in searched):
                return {packet_id}
        return set()
    found = _eval(inner, context, depth + 1)
    return {max(found)} if found else set()


def _eval_dependencies(
    node: UsedBy | Uses, context: _Context, depth: int
) -> set[str] | frozenset[str]:
    start = _eval(node.inner, context, depth + 1)
    if not start:
        return set()
    graph = context.index.depends_on if isinstance(node, UsedBy) else context.index.used_by
    steps = float("inf") if node.depth is None else node.depth
    seen = set(start)
    frontier = list(start)
    level = 0
    while frontier and level + 1 <= steps:
        level += 1
        following = []
        for packet_id in frontier:
            for neighbour in graph.get(packet_id, ()):
                if neighbour not in seen:
                    seen.add(neighbour)
                    following.append(neighbour)
        frontier = following
    seen.difference_update(start)
    return context.restrict(seen & context.index.ids)


def _constant(value: TestValue, context: _Context) -> object:
    """The value of a literal or a caller-supplied lookup; _ABSENT when it is a packet lookup."""
    if isinstance(value, Literal):
        return value.value
    if isinstance(value, LookupThis):
        assert context.this is not None
        return context.this[value.name]
    if isinstance(value, LookupEnvironment):
        assert context.environment is not None
        return context.environment[value.name]
    return _ABSENT


def _eval_test(node: Test, context: _Context) -> set[str] | frozenset[str]:
    op = node.operator
    lhs, rhs = node.lhs, node.rhs
    left, right = _constant(lhs, context), _constant(rhs, context)
    if left is not _ABSENT and right is not _ABSENT:
        holds = compare(op, value_key(left), value_key(right))
        return context.restrict(context.index.ids) if holds else set()
    if left is _ABSENT and right is _ABSENT:
        return _scan(node, context)
    if left is not _ABSENT:
        lhs, op, right = rhs, _FLIPPED[op], left
    return _lookup_test(lhs, op, value_key(right), context)


def _lookup_test(
    lookup: TestValue, op: TestOperator, key: ValueKey | None, context: _Context
) -> _Ids:
    """`lookup op value` for a packet lookup; key None is a value no packet can have."""
    if key is None:
        return set()
    if isinstance(lookup, LookupParameter):
        return context.restrict(_parameter_test(context.index, lookup.name, op, key))
    if op is TestOperator.Equal:
        return _id_or_name_equal(lookup, key, context)
    if op is TestOperator.NotEqual:
        return _id_or_name_not_equal(lookup, key, context)
    # Ids and names are strings: never ordered.
    return set()


def _id_or_name_equal(lookup: TestValue, key: ValueKey, context: _Context) -> _Ids:
    if key[0] != "string":
        return set()
    text = str(key[1])
    index = context.index
    if isinstance(lookup, LookupId):
        return context.restrict({text} if text in index.ids else set())
    return context.restrict(index.with_name(text))


def _id_or_name_not_equal(lookup: TestValue, key: ValueKey, context: _Context) -> _Ids:
    if key[0] != "string":
        return context.restrict(context.index.ids)
    text = str(key[1])
    if isinstance(lookup, LookupId):
        return {packet_id for packet_id in context.universe if packet_id != text}
    same = context.index.with_name(text)
    return {packet_id for packet_id in context.universe if packet_id not in same}


def _parameter_test(
    index: QueryIndex, parameter: str, op: TestOperator, key: ValueKey
) -> set[str] | frozenset[str]:
    if op is TestOperator.Equal:
        return index.with_value(parameter, key)
    return set().union(*_matching_sets(index, parameter, op, key))


def _matching_sets(
    index: QueryIndex, parameter: str, op: TestOperator, key: ValueKey, name: str | None = None
) -> list[set[str]] | list[set[str] | frozenset[str]]:
    """The index's sets of packets whose `parameter` satisfies `op key`."""
    if op is TestOperator.Equal:
        return [index.with_value(parameter, key, name)]
    if op is TestOperator.NotEqual:
        return [ids for other, ids in index.values_of(parameter, name).items() if other != key]
    if key[0] != "number":
        return []
    number = float(key[1])  # type: ignore[arg-type]
    inf = float("inf")
    if op in (TestOperator.LessThan, TestOperator.LessThanOrEqual):
        low, high = -inf, number
        low_open, high_open = False, op is TestOperator.LessThan
    else:
        low, high = number, inf
        low_open, high_open = op is TestOperator.GreaterThan, False
    return index.numbers_between(
        parameter, low, high, low_open=low_open, high_open=high_open, name=name
    )


def _lookup(value: TestValue, index: QueryIndex, packet_id: str) -> ValueKey | None:
    if isinstance(value, LookupId):
        return ("string", packet_id)
    if isinstance(value, LookupName):
        return ("string", index.names[packet_id])
    assert isinstance(value, LookupParameter)
    return value_key(index.parameters[packet_id].get(value.name))


def _scan(node: Test, context: _Context) -> set[str]:
    """A test between two packet lookups (`parameter:a == parameter:b`): one pass."""
    index = context.index
    op, lhs, rhs = node.operator, node.lhs, node.rhs
    return {
        packet_id
        for packet_id in context.universe
        if compare(op, _lookup(lhs, index, packet_id), _lookup(rhs, index, packet_id))
    }


_EVALUATORS: dict[type[Node], Callable[[Any, _Context, int], _Ids]] = {
    BooleanExpr: _eval_boolean,
    Negation: _eval_negation,
    Latest: _eval_latest,
    Single: _eval_single,
    UsedBy: _eval_dependencies,
    Uses: _eval_dependencies,
    NamedSubquery: _eval_named,
}
