"""`outpack search` / `outpack query` / `outpack parse`, run as a real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.query.roots import copy_fixture_root


def outpack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outpack", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def example(tmp_path: Path) -> str:
    return str(copy_fixture_root("outpack-example", tmp_path))


def test_search_prints_ids_one_per_line(example: str) -> None:
    result = outpack("search", "--root", example, "2 != 1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "20170818-164830-33e0ab01",
        "20170818-164847-7574883b",
        "20180220-095832-16a4bbed",
        "20180818-164043-7cdcde4b",
    ]


def test_query_is_an_alias_and_found_nothing_is_not_an_error(example: str) -> None:
    result = outpack("query", "--root", example, 'name == "nothing"')
    assert (result.returncode, result.stdout) == (0, "Found no packets\n")


def test_parse_error(example: str) -> None:
    result = outpack("search", "--root", example, 'name =! "123"')
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Failed to parse query")
    assert "Encountered unknown infix operator: =!" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluation_error(example: str) -> None:
    result = outpack("search", "--root", example, "single(parameter:pull_data == false)")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Failed to evaluate query",
        "Query found 0 packets, but expected exactly one",
    ]


def test_options(example: str) -> None:
    local = outpack("search", "--root", example, "--location", "local", "--json", "latest")
    assert json.loads(local.stdout) == ["20170818-164847-7574883b"]
    unpacked = outpack("search", "--root", example, "--unpacked", "--json", "2 == 2")
    assert json.loads(unpacked.stdout) == ["20170818-164847-7574883b"]
    named = outpack("search", "--root", example, "--name", "modup-201707-params1", "latest")
    assert named.stdout == "20180220-095832-16a4bbed\n"
    this = outpack("search", "--root", example, "--this", "size=10", "parameter:size == this:size")
    assert this.stdout == "20180220-095832-16a4bbed\n"
    unknown = outpack("search", "--root", example, "--location", "nowhere", "latest")
    assert unknown.returncode == 1
    assert "Unknown location" in unknown.stderr


def test_this_without_values_is_an_evaluation_error(example: str) -> None:
    result = outpack("search", "--root", example, "parameter:x == this:x")
    assert result.returncode == 1
    assert "this parameters are not supported in this context" in result.stderr


def test_parse_prints_the_tree() -> None:
    result = outpack("parse", 'latest(name == "a")')
    assert result.stdout == (
        "Latest(inner=Test(operator=TestOperator.Equal, lhs=LookupName(), "
        "rhs=Literal(value='a')))\n"
    )
    as_json = json.loads(outpack("parse", "--json", "usedby(latest(), 2)").stdout)
    assert as_json == {
        "type": "UsedBy",
        "inner": {"type": "Latest", "inner": None},
        "depth": 2.0,
    }
    failed = outpack("parse", "latest(")
    assert failed.returncode == 1
    assert failed.stderr.startswith("Failed to parse query at line 1, column 8:")
