"""Roots for the packet browser's tests: the demo root and a hostile one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from outpack.config import CoreConfig, init_root
from outpack.demo import create_demo_root
from outpack.hash import hash_bytes
from outpack.packet import build_metadata, create_packet
from outpack.root import Root
from tests.server.conftest import make_client, sample, start_server

__all__ = ["demo_root", "hostile", "make_client", "sample", "start_server"]

SCRIPT = "<script>window.__pwned = 1; document.title = 'PWNED'</script>"
# An HTML report that tries to reach the interface: its cookies, its DOM, its API.
EVIL_HTML = b"""<!doctype html><html><body><p id="inside">report</p><script>
window.__pwned = 1;
try { parent.document.body.innerHTML = "PWNED"; } catch (e) {}
try { top.__pwned = document.cookie || "no cookie"; } catch (e) {}
try { fetch("/ui/").then(() => { top.document.title = "PWNED"; }); } catch (e) {}
console.log("PWNED from the report");
</script></body></html>"""
EVIL_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="console.log(\'PWNED svg\')">'
    b'<script>console.log("PWNED svg script")</script><rect width="10" height="10"/></svg>'
)


@dataclass
class Hostile:
    path: Path
    id: str
    upstream: str


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    path = tmp_path / "demo"
    create_demo_root(path)
    return path


@pytest.fixture
def hostile(tmp_path: Path) -> Hostile:
    """A packet whose name, parameters, custom fields, git and files are hostile."""
    path, _ = init_root(
        tmp_path / "hostile", CoreConfig(use_file_store=True, require_complete_tree=True)
    )
    root = Root.open(path)
    upstream = create_packet(
        root,
        f"up{SCRIPT}",
        {"a.txt": b"a\n"},
        packet_id="20240101-000000-00000001",
        start=1_704_067_200.0,
    )
    files = {
        "report.html": EVIL_HTML,
        "picture.svg": EVIL_SVG,
        f"notes{SCRIPT}.txt": SCRIPT.encode(),
        "table.csv": f"a,b\n{SCRIPT},2\n".encode(),
    }
    for data in files.values():
        root.store.put_bytes(hash_bytes("sha256", data), data)
    document = orjson.loads(
        build_metadata(
            root,
            f"evil{SCRIPT}",
            files,
            packet_id="20240101-000100-00000002",
            parameters={"p": SCRIPT, f"k{SCRIPT}": 1},
            custom={"orderly": {"description": {"display": SCRIPT, "long": SCRIPT}}},
            start=1_704_067_260.0,
        )
    )
    document["depends"] = [
        {"packet": upstream, "query": f'name == "{SCRIPT}"', "files": []},
    ]
    document["git"] = {"branch": SCRIPT, "sha": "abc", "url": [SCRIPT]}
    data = orjson.dumps(document)
    packet_id = root.import_packet(data, hash_bytes("sha256", data)).id
    return Hostile(path, packet_id, upstream)
