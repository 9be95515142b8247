"""The packet browser in a real browser (chromium), against a real server.

Screenshots of each page are taken from the demo root; with
OUTPACK_SCREENSHOTS=1 they are written to docs/images/ for docs/ui.md.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from outpack.demo import DEMO_PACKETS_ORDER
from outpack.root import Root
from tests.server.conftest import ServerProcess
from tests.support import REPO
from tests.ui.browser import browser
from tests.ui.conftest import Hostile

__all__ = ["browser"]

DATA_1, DATA_2, MODEL, REPORT, DATA_3 = DEMO_PACKETS_ORDER
TOKEN = "browser-test-token-0123456789"
StartServer = Callable[..., ServerProcess]
SIGN_IN = re.compile(r"/ui/signin\?next=")
SEARCH = re.compile(r"/ui/search\?q=")


@dataclass
class Tab:
    """A page, with every dialog and console message it produced."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(
        viewport={"width": 1000, "height": 720}, timezone_id="UTC", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    opened = Tab(page)

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: opened.console.append(message.text))
    yield opened
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Any, str], None]:
    folder = REPO / "docs" / "images" if os.environ.get("OUTPACK_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.screenshot(path=str(folder / f"ui-{name}.png"), full_page=name == "packet")

    return take


@pytest.fixture
def demo_url(demo_root: Path, start_server: StartServer) -> str:
    """The address of a server of the demo root."""
    return start_server(demo_root).url


def test_home_to_packet_to_file_and_back(
    demo_url: str, tab: Tab, shots: Callable[[Any, str], None]
) -> None:
    page = tab.page
    page.goto(demo_url + "/ui/")
    assert page.title() == "Packets · outpack"
    assert page.locator("#names tbody tr").count() == 3
    shots(page, "home")
    # The README's promise: home to a file's contents in three clicks (here two).
    page.get_by_role("link", name=REPORT).click()
    page.wait_for_url(f"**/ui/packet/{REPORT}")
    assert page.locator("h1").inner_text() == "Final report"
    assert page.locator(".graph svg a").count() == 3  # two levels up
    shots(page, "packet")
    page.get_by_role("link", name="report.md", exact=True).click()
    page.wait_for_url("**/file/report.md")
    assert "All good." in page.locator("pre.preview-text").inner_text()
    page.go_back()
    page.wait_for_url(f"**/ui/packet/{REPORT}")
    # Upstream through the graph, then a CSV shown as a table.
    page.locator(f'.graph a[href="/ui/packet/{MODEL}"]').click()
    page.wait_for_url(f"**/ui/packet/{MODEL}")
    page.get_by_role("link", name=DATA_2).first.click()
    page.get_by_role("link", name="lookup.csv", exact=True).click()
    assert page.locator("table.csv tbody tr").count() == 4
    assert page.locator("table.csv th").all_inner_texts() == ["code", "region"]
    shots(page, "file")
    page.go_back()
    page.go_back()
    page.go_back()
    page.go_back()
    assert page.url == demo_url + "/ui/"
    assert not tab.dialogs


def test_query_and_bad_query(demo_url: str, tab: Tab, shots: Callable[[Any, str], None]) -> None:
    page = tab.page
    page.goto(demo_url + "/ui/")
    page.fill("#q", 'name == "data" && parameter:clean == true')
    page.press("#q", "Enter")
    page.wait_for_url(SEARCH)
    ids = page.locator("#results a.id").all_inner_texts()
    assert ids == [DATA_3, DATA_1]
    shots(page, "search")
    shared = page.url
    page.goto(shared)  # the URL holds the query: a result page can be shared
    assert page.locator("#results a.id").all_inner_texts() == ids
    page.fill("#q", 'latest(name == "data" &&)')
    page.press("#q", "Enter")
    error = page.locator("pre.parse-error").inner_text().splitlines()
    assert error[0] == "Failed to parse query at line 1, column 25:"
    assert error[2].index("^") == error[1].index(")")
    assert page.locator("#q").input_value() == 'latest(name == "data" &&)'
    shots(page, "bad-query")


def test_download_all_checked_by_hash(demo_root: Path, demo_url: str, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{demo_url}/ui/packet/{MODEL}")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Download all")).click()
    download = info.value
    assert download.suggested_filename == f"model-{MODEL}.zip"
    data = Path(download.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        contents = {item.filename: archive.read(item) for item in archive.infolist()}
    expected = Root.open(demo_root).read_metadata(MODEL).files
    assert sorted(contents) == sorted(file.path for file in expected)
    for file in expected:
        assert "sha256:" + hashlib.sha256(contents[file.path]).hexdigest() == file.hash


def _sign_in(page: Any, url: str, shots: Callable[[Any, str], None] | None = None) -> None:
    page.goto(url + "/ui/")
    page.wait_for_url(SIGN_IN)
    if shots is not None:
        shots(page, "signin")
    page.fill("#token", "wrong-token-wrong-token")
    page.press("#token", "Enter")
    assert "not accepted" in page.locator("main").inner_text()
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/ui/")


def test_sign_in_with_a_token(
    demo_root: Path,
    start_server: StartServer,
    tab: Tab,
    tmp_path: Path,
    shots: Callable[[Any, str], None],
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"browser read {TOKEN}\n")
    server = start_server(demo_root, "--token-file", str(tokens))
    page = tab.page
    _sign_in(page, server.url, shots)
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("outpack_token", True, "Strict")
    ]
    assert page.evaluate("document.cookie") == ""
    page.goto(f"{server.url}/ui/packet/{DATA_1}/file/data.csv")
    assert page.locator("table.csv").count() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/signin")
    page.goto(server.url + "/ui/")
    page.wait_for_url(SIGN_IN)


def test_hostile_packet_runs_nothing(
    hostile: Hostile, start_server: StartServer, tab: Tab, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"browser read {TOKEN}\n")
    server = start_server(hostile.path, "--token-file", str(tokens))
    page = tab.page
    _sign_in(page, server.url)
    visited = [
        "/ui/",
        "/ui/search?q=evil",
        f"/ui/packet/{hostile.id}",
        f"/ui/packet/{hostile.upstream}",
        f"/ui/packet/{hostile.id}/file/table.csv",
        f"/ui/packet/{hostile.id}/file/picture.svg",
        f"/ui/packet/{hostile.id}/file/report.html",
    ]
    for path in visited:
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned") is None, path
        assert page.title() != "PWNED", path
        # A script that ran would have replaced the page (the report's does that).
        assert page.locator("body").inner_text().strip() != "PWNED", path
        assert page.locator("header nav").count() == 1, path
    # The report is there, in its frame, but its script never ran.
    frame = page.frame_locator("iframe.preview-html")
    assert frame.locator("#inside").inner_text() == "report"
    # Opened directly, packet files are still sandboxed.
    for name in ("report.html", "picture.svg"):
        page.goto(f"{server.url}/ui/packet/{hostile.id}/raw/{name}")
        page.wait_for_load_state("load")
        assert page.title() != "PWNED"
    page.goto(f"{server.url}/ui/packet/{hostile.id}")
    assert "<script>" in page.locator("h1").inner_text()  # shown as text
    assert not tab.dialogs
    assert not [line for line in tab.console if "PWNED" in line and "Refused" not in line]


def test_keyboard_navigation(demo_url: str, tab: Tab) -> None:
    page = tab.page
    page.goto(demo_url + "/ui/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # "/" jumps to the search box from anywhere.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type('name == "model"')
    page.keyboard.press("Enter")
    page.wait_for_url(SEARCH)
    _tab_to(page, f"/ui/packet/{MODEL}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/packet/{MODEL}")
    _tab_to(page, f"/ui/packet/{MODEL}/file/fit.txt")
    page.keyboard.press("Enter")
    page.wait_for_url("**/file/fit.txt")
    assert "slope=0.42" in page.locator("pre.preview-text").inner_text()
    # The filter box narrows the home page as one types.
    page.goto(demo_url + "/ui/")
    _tab_to(page, None, element_id="filter")
    page.keyboard.type("rep")
    assert page.locator("#names tbody tr:visible").count() == 1


def _tab_to(page: Any, href: str | None, element_id: str | None = None, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        active = page.evaluate(
            "[document.activeElement.getAttribute('href'), document.activeElement.id]"
        )
        if (href is not None and active[0] == href) or (element_id and active[1] == element_id):
            return
    raise AssertionError(f"Tab never reached {href or element_id}")
