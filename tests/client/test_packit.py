"""Packit locations: routes under `<url>/api/outpack/`, a bearer token from the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.client.conftest import ServerProcess, new_root, outpack, part
from tests.client.packit_proxy import packit_proxy

StartServer = Callable[..., ServerProcess]
TOKEN = "s3cret-packit-token"


def test_push_and_pull_through_packit_with_a_token(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, (_, _, c, _) = chain
    tokens = tmp_path / "tokens"
    tokens.write_text(f"ci read-write {TOKEN}\n")
    served = new_root(tmp_path / "served").path
    server = start_server(served, "--token-file", str(tokens))
    env = {"PACKIT_TOKEN": TOKEN}
    with packit_proxy(server.url) as url:
        outpack(
            "location", "add", "portal", url, "--type", "packit", "--token-env", "PACKIT_TOKEN",
            "--root", source,
        )  # fmt: skip
        config = (source / ".outpack" / "config.json").read_text()
        assert "$PACKIT_TOKEN" in config and TOKEN not in config
        assert (
            "Pushed 3 packets"
            in outpack("push", c, "--location", "portal", "--root", source, env=env).out
        )
        copy = new_root(tmp_path / "copy").path
        outpack(
            "location", "add", "portal", url, "--type", "packit", "--token-env", "PACKIT_TOKEN",
            "--root", copy,
        )  # fmt: skip
        outpack("pull", c, "--root", copy, env=env)
        assert part(copy, "files") == part(served, "files")
        assert part(copy, "location/local").keys() == part(served, "location/local").keys()

        wrong = outpack("fetch", "--root", copy, env={"PACKIT_TOKEN": "nope"}, check=False)
        assert wrong.code == 1 and "location 'portal'" in wrong.err
        assert "needs credentials (401" in wrong.err and "$PACKIT_TOKEN" in wrong.err
        assert wrong.err.count("\n") == 1 and TOKEN not in wrong.err
        unset = outpack("fetch", "--root", copy, env={"PACKIT_TOKEN": ""}, check=False)
        assert unset.code == 1
        assert "Environment variable 'PACKIT_TOKEN'" in unset.err and "is not set" in unset.err
