"""The conformance cases of tests/query/conformance.json, one test each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.query import search
from tests.query.roots import copy_fixture_root, write_root
from tests.support import FIXTURE_ROOTS

DOCUMENT = json.loads((Path(__file__).parent / "conformance.json").read_text())
CASES: list[dict[str, Any]] = DOCUMENT["cases"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every root the cases use, made once per module (the cases only read them)."""
    base = tmp_path_factory.mktemp("conformance")
    made: dict[str, Path] = {}
    for name, packets in DOCUMENT["roots"].items():
        made[name] = write_root(base / name, packets).path
    return made


def _root(roots: dict[str, Path], name: str, tmp_path: Path) -> Path:
    if name in FIXTURE_ROOTS:
        return copy_fixture_root(name, tmp_path)
    return roots[name]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['root']}: {c['rule']}" for c in CASES])
def test_conformance(case: dict[str, Any], roots: dict[str, Path], tmp_path: Path) -> None:
    root = _root(roots, case["root"], tmp_path)
    options = case.get("options", {})
    if "error" in case:
        expected_error = QueryParseError if case["error"] == "parse" else QueryEvaluationError
        with pytest.raises(expected_error) as caught:
            search(root, case["query"], **options)
        assert case["message"] in str(caught.value)
    else:
        assert search(root, case["query"], **options) == case["expected"]


def test_every_case_names_a_rule_once() -> None:
    rules = [(case["root"], case["rule"]) for case in CASES]
    assert len(rules) == len(set(rules))
