"""Property-based requests generated from our OpenAPI description (schemathesis).

Whatever the generated paths, queries and bodies, the server must never
answer 500, and every answer must match the description it publishes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from outpack.hash import hash_file
from tests.server.conftest import ServerProcess, check_envelope, make_sample_root


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("fuzz")
    sample = make_sample_root(path / "root")
    server = ServerProcess(sample.path, path / "logs", "--no-access-log")
    yield server
    server.stop()


def test_generated_requests(fuzzed_server: ServerProcess) -> None:
    document = requests.get(fuzzed_server.url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in document["paths"].values())
    for operation in operations:
        fuzz(operation, fuzzed_server.url)


def fuzz(operation: Any, url: str) -> None:
    # An upload is only acceptable when the body hashes to the hash in the
    # path, which a schema cannot express: random valid-looking uploads are
    # rightly refused; likewise a search query must parse, which a schema
    # cannot express either.
    refusable = operation.method == "post" or operation.path == "/search"
    excluded = [positive_data_acceptance] if refusable else []

    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call_and_validate(base_url=url, timeout=30, excluded_checks=excluded)
        # Beyond the published description: never a 500, and every JSON
        # answer is an envelope valid against the shared schemas.
        assert response.status_code < 500, (case.method, case.formatted_path)
        if case.method == "HEAD":
            assert response.content == b""
            return
        content_type = next(iter(response.headers.get("content-type", [])), None)
        target = response.request.path_url
        check_envelope(response.status_code, content_type, response.content, target)

    check()


def test_store_only_grows_with_valid_uploads(fuzzed_server: ServerProcess) -> None:
    """After the fuzzing, every file in the store still matches its name."""
    files_dir: Path = fuzzed_server.root / ".outpack" / "files"
    for path in files_dir.rglob("*"):
        if path.is_file():
            algorithm, prefix, rest = path.relative_to(files_dir).parts
            assert str(hash_file(algorithm, path)) == f"{algorithm}:{prefix}{rest}"
