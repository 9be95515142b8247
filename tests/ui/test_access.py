"""The browser's access policy, against real servers: sign-in, cookies, read-only mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests

from outpack.demo import DEMO_PACKETS_ORDER
from tests.server.conftest import ServerProcess

READER = "reader-token-0123456789;=x"
WRITER = "writer-token-0123456789"
MODEL = DEMO_PACKETS_ORDER[2]
StartServer = Callable[..., ServerProcess]


def _tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"reader read {READER}\nwriter read-write {WRITER}\n")
    return path


def _get(server: ServerProcess, path: str, **options: object) -> requests.Response:
    return requests.get(server.url + path, timeout=30, allow_redirects=False, **options)  # type: ignore[arg-type]


def test_sign_in_with_a_token(demo_root: Path, start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(demo_root, "--token-file", str(_tokens(tmp_path)))
    first = _get(server, f"/ui/packet/{MODEL}")
    assert first.status_code == 303
    assert first.headers["location"] == f"/ui/signin?next=/ui/packet/{MODEL}"
    form = _get(server, first.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text
    assert f'value="/ui/packet/{MODEL}"' in form.text
    assert _get(server, "/ui/static/style.css").status_code == 200

    wrong = requests.post(
        server.url + "/ui/signin", data={"token": "nope-nope-nope-nope", "next": "/ui/"}, timeout=30
    )
    assert wrong.status_code == 401 and "not accepted" in wrong.text
    assert "set-cookie" not in wrong.headers

    signed = requests.post(
        server.url + "/ui/signin",
        data={"token": READER, "next": f"/ui/packet/{MODEL}"},
        timeout=30,
        allow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == f"/ui/packet/{MODEL}"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("outpack_token=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    jar = {"outpack_token": signed.cookies["outpack_token"]}
    page = _get(server, f"/ui/packet/{MODEL}", cookies=jar)
    assert page.status_code == 200 and MODEL in page.text
    # The cookie also reads the raw metadata the pages link to, and the JSON search.
    assert _get(server, f"/metadata/{MODEL}/json", cookies=jar).status_code == 200
    assert _get(server, "/search", cookies=jar).status_code == 200
    assert _get(server, "/search").status_code == 401


def test_the_cookie_never_writes(
    demo_root: Path, start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(demo_root, "--token-file", str(_tokens(tmp_path)))
    signed = requests.post(
        server.url + "/ui/signin", data={"token": WRITER}, timeout=30, allow_redirects=False
    )
    jar = {"outpack_token": signed.cookies["outpack_token"]}
    body = {"ids": [MODEL], "unpacked": False}
    with_cookie = requests.post(server.url + "/packets/missing", json=body, cookies=jar, timeout=30)
    assert with_cookie.status_code == 401
    with_bearer = requests.post(
        server.url + "/packets/missing",
        json=body,
        headers={"Authorization": f"Bearer {WRITER}"},
        timeout=30,
    )
    assert with_bearer.status_code == 200


def test_sign_out_and_safe_redirects(
    demo_root: Path, start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(demo_root, "--token-file", str(_tokens(tmp_path)))
    for target in ("//evil.example/ui/", "https://evil.example/", "/ui/\\evil", "/metadata/list"):
        answer = requests.post(
            server.url + "/ui/signin",
            data={"token": READER, "next": target},
            timeout=30,
            allow_redirects=False,
        )
        assert answer.headers["location"] == "/ui/", target
    out = requests.post(server.url + "/ui/signout", timeout=30, allow_redirects=False)
    assert out.status_code == 303
    assert "Max-Age=0" in out.headers["set-cookie"]


def test_read_only_server_serves_the_interface(demo_root: Path, start_server: StartServer) -> None:
    server = start_server(demo_root, "--read-only")
    assert _get(server, "/ui/").status_code == 200
    assert _get(server, f"/ui/packet/{MODEL}/zip").status_code == 200
    assert _get(server, "/ui/search?q=model").status_code == 200
    assert "Sign out" not in _get(server, "/ui/").text


def test_no_ui_option(demo_root: Path, start_server: StartServer) -> None:
    server = start_server(demo_root, "--no-ui")
    assert _get(server, "/ui/").status_code == 404
    assert _get(server, "/search").status_code == 200
    assert "Packet browser" not in server.logs()


def test_start_server_prints_the_interface_address(
    demo_root: Path, start_server: StartServer
) -> None:
    server = start_server(demo_root)
    assert f"Packet browser: http://127.0.0.1:{server.port}/ui/" in server.logs()
