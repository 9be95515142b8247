"""Conditional GETs on the list routes: an unchanged list costs a poller a bodiless 304."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from outpack.packet import create_packet
from outpack.server.routes import etag_matches
from tests.server.conftest import AsgiClient, SampleRoot, ServerProcess, check_success

LIST_ROUTES = ("/metadata/list", "/packit/metadata", "/checksum", "/checksum?alg=md5")


@pytest.mark.parametrize("target", LIST_ROUTES)
def test_if_none_match_gives_304_until_the_list_changes(
    sample: SampleRoot, make_client: Callable[..., AsgiClient], target: str
) -> None:
    client = make_client(sample.path)
    first = client.get(target)
    assert first.status == 200
    tag = first.header("etag")
    assert tag is not None and tag.startswith('"') and tag.endswith('"')
    assert client.get(target).header("etag") == tag

    again = client.get(target, headers=[(b"if-none-match", tag.encode()), (b"x-request-id", b"r1")])
    assert again.status == 304 and again.body == b""
    assert again.header("etag") == tag and again.header("x-request-id") == "r1"
    # Clients that send no (or another) tag still get the whole answer.
    for headers in ([], [(b"if-none-match", b'"something-else"')]):
        full = client.get(target, headers=headers)
        assert full.status == 200 and full.body == first.body

    create_packet(sample.root, "later", {"later.txt": b"new"})
    changed = client.get(target, headers=[(b"if-none-match", tag.encode())])
    assert changed.status == 200
    assert changed.header("etag") != tag and changed.body != first.body
    check_success(changed.body)


def test_known_since_answers_have_their_own_tags(
    sample: SampleRoot, make_client: Callable[..., AsgiClient]
) -> None:
    client = make_client(sample.path)
    everything = client.get("/packit/metadata")
    recent = client.get("/packit/metadata?known_since=4102444800")
    assert check_success(recent.body) == []
    assert recent.header("etag") not in (None, everything.header("etag"))
    tag = str(recent.header("etag")).encode()
    assert (
        client.get(
            "/packit/metadata?known_since=4102444800", headers=[(b"if-none-match", tag)]
        ).status
        == 304
    )


def test_etag_matching_rules() -> None:
    tag = b'"abc"'
    assert etag_matches(b'"abc"', tag)
    assert etag_matches(b'W/"abc"', tag)
    assert etag_matches(b'"x", "abc"', tag)
    assert etag_matches(b"*", tag)
    assert not etag_matches(b'"abcd"', tag)
    assert not etag_matches(b"abc", tag)
    assert not etag_matches(b"", tag)


def test_tags_agree_across_workers_and_servers(
    sample: SampleRoot, start_server: Callable[..., ServerProcess]
) -> None:
    multi = start_server(sample.path, "--workers", "2")
    single = start_server(sample.path)
    for target in LIST_ROUTES:
        tags = set()
        bodies = set()
        for server in (multi, single, multi, multi, single):
            # A new connection each time, so that both workers answer some.
            response = requests.get(server.url + target, timeout=30)
            assert response.status_code == 200
            tags.add(response.headers["etag"])
            bodies.add(response.content)
        assert len(tags) == 1 and len(bodies) == 1, target
        tag = tags.pop()
        for server in (multi, single):
            cached = requests.get(
                server.url + target,
                headers={"If-None-Match": tag, "X-Request-Id": "poll-1"},
                timeout=30,
            )
            assert cached.status_code == 304 and cached.content == b""
            assert cached.headers["x-request-id"] == "poll-1"
            assert cached.headers["etag"] == tag


def test_extended_packit_list_equals_a_fresh_one(
    sample: SampleRoot, make_client: Callable[..., AsgiClient]
) -> None:
    """The cached list is extended when packets arrive last, rebuilt otherwise."""
    client = make_client(sample.path)
    assert client.get("/packit/metadata").status == 200
    root = sample.root
    create_packet(root, "newest", {"n.txt": b"n"}, packet_id="20991231-000000-0000ffff")
    create_packet(root, "newer", {"m.txt": b"m"}, packet_id="20991231-000001-0000ffff")
    extended = client.get("/packit/metadata")
    assert extended.body == make_client(sample.path).get("/packit/metadata").body
    create_packet(root, "oldest", {"o.txt": b"o"}, packet_id="20000101-000000-00000000")
    rebuilt = client.get("/packit/metadata")
    assert rebuilt.body == make_client(sample.path).get("/packit/metadata").body
    ids = [entry["id"] for entry in check_success(rebuilt.body)]
    assert ids == sorted(ids) and len(ids) == len(sample.ids) + 3
