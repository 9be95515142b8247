"""The pages' content, through the app as a server calls it (no browser)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from outpack.config import CoreConfig, init_root
from outpack.demo import DEMO_PACKETS_ORDER
from outpack.hash import Hash
from outpack.packet import create_packet
from outpack.query import search
from outpack.root import Root
from outpack.ui.files import content_disposition
from tests.server.conftest import AsgiClient
from tests.ui.conftest import SCRIPT, Hostile

DATA_1, DATA_2, MODEL, REPORT, DATA_3 = DEMO_PACKETS_ORDER
Client = Callable[..., AsgiClient]


def text_of(body: bytes) -> str:
    """The page's visible text, roughly: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", body.decode()))


def test_home_lists_names_with_counts_and_latest(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/ui/")
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert "script-src 'self'" in (response.header("content-security-policy") or "")
    page = response.body.decode()
    rows = re.findall(r"<tr data-name.*?</tr>", page, re.S)
    assert [re.search(r">(\w+)</a>", row).group(1) for row in rows] == ["data", "model", "report"]  # type: ignore[union-attr]
    assert ">3</td>" in rows[0] and DATA_3 in rows[0]
    assert "Final report" in rows[2] and REPORT in rows[2]
    assert "5 packets under 3 names" in text_of(response.body)


def test_home_filter(demo_root: Path, make_client: Client) -> None:
    page = make_client(demo_root).get("/ui/?filter=MOD").body.decode()
    assert MODEL in page and DATA_3 not in page


def test_ui_without_slash_redirects(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/ui")
    assert response.status == 303 and response.header("location") == "/ui/"


def test_search_query_newest_first_with_parameters(demo_root: Path, make_client: Client) -> None:
    query = quote('name == "data" && parameter:n > 10')
    response = make_client(demo_root).get(f"/ui/search?q={query}")
    assert response.status == 200
    page = response.body.decode()
    found = re.findall(r'href="/ui/packet/([0-9a-f-]+)" class="id"', page)
    assert found == [DATA_2, DATA_1]
    assert "region=north" in page and "clean=false" in page
    assert "2 packets match" in text_of(response.body)


def test_search_uses_the_same_evaluator_as_the_cli(demo_root: Path, make_client: Client) -> None:
    text = 'usedby(latest(name == "report"))'
    page = make_client(demo_root).get(f"/ui/search?q={quote(text)}").body.decode()
    shown = re.findall(r'href="/ui/packet/([0-9a-f-]+)" class="id"', page)
    assert shown == search(demo_root, text)[::-1] == [MODEL, DATA_2]


def test_search_plain_words_match_names_and_display_names(
    demo_root: Path, make_client: Client
) -> None:
    client = make_client(demo_root)
    page = client.get("/ui/search?q=south").body.decode()
    assert re.findall(r'href="/ui/packet/([0-9a-f-]+)" class="id"', page) == [DATA_2]
    page = client.get("/ui/search?q=Final%20REPORT").body.decode()
    assert re.findall(r'href="/ui/packet/([0-9a-f-]+)" class="id"', page) == [REPORT]
    assert "as words" in page


def test_bad_query_shows_the_caret_under_the_column(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/ui/search?q=" + quote('name == "a" && (x'))
    assert response.status == 400
    block = re.search(r'<pre class="parse-error">(.*?)</pre>', response.body.decode(), re.S)
    assert block is not None
    lines = html.unescape(block.group(1)).splitlines()
    assert lines[0] == "Failed to parse query at line 1, column 17:"
    assert lines[1] == 'name == "a" && (x'
    assert lines[2].index("^") == 16  # under the x


def test_search_paginates(tmp_path: Path, make_client: Client) -> None:
    path, _ = init_root(tmp_path / "many", CoreConfig(use_file_store=True))
    root = Root.open(path)
    ids = [
        create_packet(root, "x", {}, packet_id=f"20240101-0000{i:02d}-000000{i:02d}")
        for i in range(60)
    ]
    client = make_client(path)
    first = client.get("/ui/search?q=").body.decode()
    second = client.get("/ui/search?page=2&q=").body.decode()
    shown = re.findall(r'href="/ui/packet/([0-9a-f-]+)" class="id"', first)
    assert shown == ids[::-1][:50]
    assert re.findall(r'href="/ui/packet/([0-9a-f-]+)" class="id"', second) == ids[::-1][50:]
    assert "Page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' in second


def test_packet_page(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get(f"/ui/packet/{MODEL}")
    assert response.status == 200
    page = response.body.decode()
    text = text_of(response.body)
    assert "2025-01-01T10:02:00Z" in page and "tolerance" in text
    assert f'href="/ui/packet/{MODEL}/file/fit.txt"' in page
    assert f'href="/ui/packet/{MODEL}/raw/input.csv?download=1"' in page
    # Upstream with the files it gave, downstream, both linked.
    assert f'href="/ui/packet/{DATA_2}"' in page and "input.csv" in text and "data.csv" in text
    assert f'href="/ui/packet/{REPORT}"' in page and "Final report" in text
    assert f'href="/metadata/{MODEL}/json"' in page
    # The graph: an SVG whose nodes link to each packet.
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert all(f'href="/ui/packet/{i}"' in svg for i in (DATA_2, MODEL, REPORT))
    assert "orderly2::orderly_location_pull_packet(&#34;" in page
    assert f"outpack search --root . &#39;id == &#34;{MODEL}&#34;&#39;" in page


def test_file_views(demo_root: Path, make_client: Client) -> None:
    client = make_client(demo_root)
    csv_page = client.get(f"/ui/packet/{DATA_1}/file/lookup.csv").body.decode()
    assert '<th scope="col">region</th>' in csv_page and "<td>north</td>" in csv_page
    text_page = client.get(f"/ui/packet/{REPORT}/file/report.md").body.decode()
    assert '<pre class="preview-text"' in text_page and "# Demo report" in text_page
    empty = client.get(f"/ui/packet/{MODEL}/file/empty.log").body.decode()
    assert "The file is empty" in empty


def test_raw_files_are_sandboxed_and_named(hostile: Hostile, make_client: Client) -> None:
    client = make_client(hostile.path)
    response = client.get(f"/ui/packet/{hostile.id}/raw/report.html")
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert response.header("content-security-policy") == "sandbox"
    assert response.header("x-content-type-options") == "nosniff"
    assert response.header("content-disposition") == (
        "inline; filename=\"report.html\"; filename*=UTF-8''report.html"
    )
    svg = client.get(f"/ui/packet/{hostile.id}/raw/picture.svg")
    assert svg.header("content-security-policy") == "sandbox"
    name = quote(f"notes{SCRIPT}.txt", safe="")
    download = client.get(f"/ui/packet/{hostile.id}/raw/{name}?download=1")
    # The name is the last part of the path (`</script>` holds a slash).
    assert download.header("content-disposition") == (
        "attachment; filename=\"script>.txt\"; filename*=UTF-8''script%3E.txt"
    )
    assert download.body == SCRIPT.encode()


def test_utf8_download_names() -> None:
    assert content_disposition("dir/Résumé final.md") == (
        b"attachment; filename=\"R_sum_ final.md\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.md"
    )
    assert content_disposition('a"b\\c;d%.txt', inline=True).startswith(
        b'inline; filename="a_b_c_d_.txt"'
    )


def test_html_report_shown_in_a_sandboxed_frame(hostile: Hostile, make_client: Client) -> None:
    page = make_client(hostile.path).get(f"/ui/packet/{hostile.id}/file/report.html").body.decode()
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None and " sandbox " in frame.group(0)


def test_everything_from_a_packet_is_escaped(hostile: Hostile, make_client: Client) -> None:
    client = make_client(hostile.path)
    name = quote(f"notes{SCRIPT}.txt", safe="")
    for target in (
        "/ui/",
        f"/ui/search?q={quote('evil')}",
        f"/ui/packet/{hostile.id}",
        f"/ui/packet/{hostile.upstream}",
        f"/ui/packet/{hostile.id}/file/{name}",
        f"/ui/packet/{hostile.id}/file/table.csv",
    ):
        response = client.get(target)
        assert response.status == 200, target
        assert "<script>window" not in response.body.decode(), target
        assert "&lt;script&gt;window.__pwned" in response.body.decode(), target


def test_paths_never_reach_the_file_system_unchecked(demo_root: Path, make_client: Client) -> None:
    client = make_client(demo_root)
    for target in (
        f"/ui/packet/{DATA_1}/raw/..%2F..%2F.outpack%2Fconfig.json",
        f"/ui/packet/{DATA_1}/file/%2Fetc%2Fpasswd",
        f"/ui/packet/{DATA_1}/raw/data.csv%00",
        "/ui/packet/..%2Fconfig.json/zip",
        "/ui/static/..%2F..%2F__init__.py",
        f"/ui/packet/{DATA_1}/raw/../../config.json",
    ):
        response = client.get(target)
        assert response.status in (400, 404), target
        assert b"schema_version" not in response.body, target


def test_missing_packet_is_a_404_page(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/ui/packet/20990101-000000-00000000")
    assert response.status == 404
    assert "does not exist" in text_of(response.body)
    assert response.header("content-type") == "text/html; charset=utf-8"


def test_no_ui(demo_root: Path, make_client: Client) -> None:
    client = make_client(demo_root, ui=False)
    assert client.get("/ui/").status == 404
    assert client.get("/ui/").header("content-type") == "application/json"
    assert client.get("/search?query=").status == 200
    assert "externalDocs" not in client.get("/openapi.json").json()


def test_api_root_is_unchanged(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/")
    assert response.json() == {
        "status": "success",
        "data": {"schema_version": "0.1.1"},
        "errors": None,
    }


def test_wrong_method_on_a_page(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).post("/ui/")
    assert response.status == 405 and response.header("allow") == "GET, HEAD"
    assert response.header("content-type") == "text/html; charset=utf-8"


def test_file_not_stored_here(demo_root: Path, make_client: Client) -> None:
    root = Root.open(demo_root)
    fit = next(f for f in root.read_metadata(MODEL).files if f.path == "fit.txt")
    root.store.locate(Hash.parse(fit.hash)).unlink()
    client = make_client(demo_root)
    page = client.get(f"/ui/packet/{MODEL}/file/fit.txt")
    assert page.status == 200 and "not stored on this server" in text_of(page.body)
    assert client.get(f"/ui/packet/{MODEL}/raw/fit.txt").status == 404
