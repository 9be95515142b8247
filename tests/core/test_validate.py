from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from outpack.hash import hash_bytes
from outpack.packet import Dependency, create_packet
from outpack.root import Root
from outpack.validate import validate_root


def validate_cli(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outpack", "validate", "--root", str(root), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def make_chain(root: Root) -> tuple[str, str]:
    upstream = create_packet(root, "data", {"data.csv": b"a,b\n1,2\n", "empty": b""})
    downstream = create_packet(
        root,
        "report",
        {"report.txt": b"report"},
        depends=[Dependency(upstream, 'latest(name == "data")', {"in.csv": "data.csv"})],
    )
    return upstream, downstream


def messages(root: Root, *, quick: bool = False) -> list[str]:
    return [f"{p.path}: {p.message}" for p in validate_root(root, quick=quick).problems]


def test_clean_root_is_valid(new_root: Root) -> None:
    make_chain(new_root)
    report = validate_root(new_root)
    assert report.ok and report.packets == 2 and report.records == 2 and report.files == 3
    result = validate_cli(new_root.path)
    assert result.returncode == 0
    assert "is valid (2 packets" in result.stdout


def test_pyorderly_fixture_is_valid(copy_fixture: Callable[[str], Path]) -> None:
    result = validate_cli(copy_fixture("pyorderly-repo"), "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["packets"] == 11 and report["problems"] == []


def test_bad_example_is_reported_not_crashed(copy_fixture: Callable[[str], Path]) -> None:
    result = validate_cli(copy_fixture("outpack-bad-example"), "--json")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert problems == [
        {
            "path": ".outpack/metadata/20170818-164847-7574883b",
            "problem": "required fields missing: name",
        },
        {
            "path": ".outpack/location/another/20170818-164830-33e0ab01",
            "problem": "required fields missing: packet, time, hash",
        },
    ]
    assert "Traceback" not in result.stderr


def test_reference_example_inconsistencies_are_found(copy_fixture: Callable[[str], Path]) -> None:
    root = Root.open(copy_fixture("outpack-example"))
    found = messages(root, quick=True)
    assert any("does not match the metadata's hash" in m for m in found)
    assert any("is missing from the store" in m for m in found)
    assert any("dependencies not unpacked: 20170818-164043-7cdcde4b" in m for m in found)


def test_each_kind_of_damage_is_reported(new_root: Root) -> None:
    upstream, downstream = make_chain(new_root)
    (new_root.metadata_dir / "notes.txt").write_text("stray")
    (new_root.location_dir / "local" / ".tmp123").write_text("stray")
    stored = new_root.store.path(hash_bytes("sha256", b"report"))
    stored.write_bytes(b"REPORT")  # same size, different content
    (new_root.location_dir / "local" / upstream).unlink()
    other = create_packet(new_root, "x", {"x.bin": b"xyz"})
    new_root.store.path(hash_bytes("sha256", b"xyz")).unlink()
    record = new_root.location_dir / "local" / other
    data = json.loads(record.read_text())
    data["hash"] = str(hash_bytes("sha256", b"not the metadata"))
    record.write_text(json.dumps(data))

    found = messages(new_root)
    expected_fragments = [
        ".outpack/metadata/notes.txt: stray entry",
        ".outpack/location/local/.tmp123: stray entry",
        f"content does not match its hash sha256:{hash_bytes('sha256', b'report').digest}",
        f".outpack/location/local/{downstream}: dependencies not unpacked: {upstream}",
        f".outpack/location/local/{other}: file 'x.bin'",
        f".outpack/location/local/{other}: hash sha256:",
    ]
    for fragment in expected_fragments:
        assert any(fragment in m for m in found), (fragment, found)
    # --quick skips re-hashing, so same-size corruption goes unseen
    assert not any("content does not match" in m for m in messages(new_root, quick=True))
    result = validate_cli(new_root.path)
    assert result.returncode == 1
    assert "Found" in result.stderr and "problems" in result.stderr


def test_missing_root_is_one_line_error(tmp_path: Path) -> None:
    result = validate_cli(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: Outpack root not found at '{tmp_path}'"
