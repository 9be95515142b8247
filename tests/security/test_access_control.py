"""Access control over HTTP, against real servers: read-only mode and bearer tokens."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from outpack.hash import hash_bytes
from outpack.server.settings import ServerSettings
from tests.server.conftest import (
    AsgiClient,
    SampleRoot,
    ServerProcess,
    check_failure,
    check_success,
    outpack_files,
    server_command,
)

StartServer = Callable[..., ServerProcess]
READER = "reader-0f3c9a51d2b74e86"
WRITER = "writer-7d21e4b09a6c3f58"
DATA = b"uploaded under access control\n"
TARGET = f"/file/{hash_bytes('sha256', DATA)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"# name rights token\npackit read {READER}\nalice read-write {WRITER}\n")
    path.chmod(0o600)
    return path


def test_off_by_default(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path)
    assert server.post(TARGET, data=DATA).status_code == 200


def test_read_only_refuses_every_write(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--read-only")
    listed = check_success(server.get("/metadata/list").content)
    assert len(listed) == len(sample.ids)
    # Taken after a read: reads may refresh the catalogue cache.
    before = outpack_files(sample.path)
    packet = f"/packet/{hash_bytes('sha256', sample.metadata(sample.ids[0]))}"
    writes = [
        (TARGET, DATA),
        (packet, sample.metadata(sample.ids[0])),
        ("/packets/missing", b'{"ids": [], "unpacked": false}'),
        ("/files/missing", b'{"hashes": []}'),
    ]
    for path, body in writes:
        response = server.post(path, data=body)
        assert response.status_code == 403, path
        error = check_failure(response.content)
        assert error == {"error": "FORBIDDEN", "detail": "This server is read-only"}
    assert outpack_files(sample.path) == before


def test_bearer_tokens(sample: SampleRoot, start_server: StartServer, token_file: Path) -> None:
    server = start_server(sample.path, "--token-file", str(token_file), "--log-level", "debug")
    assert server.get("/").status_code == 200  # readiness probes need no token
    for headers in ({}, bearer("not-a-valid-token-123"), {"Authorization": f"Basic {WRITER}"}):
        response = server.get("/metadata/list", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert check_failure(response.content)["error"] == "UNAUTHORIZED"
    assert server.get("/metadata/list", headers=bearer(READER)).status_code == 200
    assert server.get("/metadata/list", headers=bearer(WRITER)).status_code == 200

    refused = server.post(TARGET, data=DATA, headers=bearer(READER))
    assert refused.status_code == 403
    assert check_failure(refused.content) == {
        "error": "FORBIDDEN",
        "detail": "Token 'packit' may only read",
    }
    assert not sample.root.store.exists(hash_bytes("sha256", DATA))
    assert server.post(TARGET, data=DATA, headers=bearer(WRITER)).status_code == 200
    assert sample.root.store.exists(hash_bytes("sha256", DATA))
    assert server.get(TARGET, headers=bearer(READER)).content == DATA

    # The tokens reach the workers through the file, never the environment,
    # and no log line ever shows them, whatever the log level.
    for pid in [server.process.pid, *server.children()]:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert READER.encode() not in environ and WRITER.encode() not in environ
    server.stop()
    logs = server.logs()
    assert '"status":401' in logs and '"status":403' in logs
    assert READER not in logs and WRITER not in logs


def test_read_only_applies_to_read_write_tokens(
    sample: SampleRoot, start_server: StartServer, token_file: Path
) -> None:
    server = start_server(sample.path, "--token-file", str(token_file), "--read-only")
    response = server.post(TARGET, data=DATA, headers=bearer(WRITER))
    assert response.status_code == 403
    assert server.get("/metadata/list", headers=bearer(READER)).status_code == 200


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (None, "Error: Cannot read token file"),
        ("", "no tokens defined"),
        ("alice admin 0123456789abcdef0123", "rights must be 'read' or 'read-write'"),
        ("alice read short", "too short"),
    ],
)
def test_bad_token_file_is_refused_at_startup(
    sample: SampleRoot, tmp_path: Path, contents: str | None, message: str
) -> None:
    path = tmp_path / "tokens"
    if contents is not None:
        path.write_text(contents)
    command = server_command(sample.path, 1, "--token-file", str(path))
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_requests_library_sees_the_challenge(
    sample: SampleRoot, start_server: StartServer, token_file: Path
) -> None:
    server = start_server(sample.path, "--token-file", str(token_file))
    with requests.Session() as session:
        first = session.get(server.url + "/metadata/list", timeout=10)
        assert first.status_code == 401
        session.headers.update(bearer(READER))
        assert session.get(server.url + "/metadata/list", timeout=10).status_code == 200


def test_settings_carry_the_token_file_path_not_the_tokens(token_file: Path) -> None:
    settings = ServerSettings(
        root="/srv/root", read_only=True, token_file=str(token_file), body_timeout=2.5
    )
    environment = settings.to_environment()
    assert ServerSettings.from_environment(environment) == settings
    assert ServerSettings.from_environment({"OUTPACK_SERVER_ROOT": "/r"}) == ServerSettings("/r")
    assert not any(READER in value or WRITER in value for value in environment.values())


def test_in_process_app_applies_the_policy(
    sample: SampleRoot, make_client: Callable[..., AsgiClient], token_file: Path
) -> None:
    client = make_client(sample.path, token_file=str(token_file))
    auth = [(b"authorization", f"Bearer {WRITER}".encode())]
    assert client.get("/metadata/list").status == 401
    assert client.get("/no/such/route").status == 401  # nothing is revealed before the token
    assert client.get("/no/such/route", headers=auth).status == 404
    assert client.post(TARGET, body=DATA, headers=auth).status == 200
    assert not any(WRITER.encode() in line for line in client.log)
