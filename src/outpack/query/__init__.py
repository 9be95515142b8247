"""The outpack query language: parser, AST, index and evaluator."""

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
)
from outpack.query.evaluate import evaluate
from outpack.query.index import QueryIndex
from outpack.query.parser import parse_query
from outpack.query.service import apply_scope, index_for, search

__all__ = [
    "BooleanExpr",
    "BooleanOperator",
    "Brackets",
    "Latest",
    "Literal",
    "LookupEnvironment",
    "LookupId",
    "LookupName",
    "LookupParameter",
    "LookupThis",
    "NamedSubquery",
    "Negation",
    "Node",
    "QueryIndex",
    "QueryNode",
    "Single",
    "Subquery",
    "Test",
    "TestOperator",
    "TestValue",
    "UsedBy",
    "Uses",
    "apply_scope",
    "evaluate",
    "index_for",
    "parse_query",
    "search",
]
