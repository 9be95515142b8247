from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from outpack.config import CoreConfig, init_root, read_config
from outpack.errors import ConfigError, RootNotFoundError
from outpack.root import Root
from tests.support import load_schema_validator


def outpack(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outpack", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_init_creates_layout_and_valid_config(tmp_path: Path) -> None:
    result = outpack("init", str(tmp_path / "r"), "--use-file-store", "--require-complete-tree")
    assert result.returncode == 0, result.stderr
    outpack_dir = tmp_path / "r" / ".outpack"
    assert (outpack_dir / "metadata").is_dir()
    assert (outpack_dir / "location" / "local").is_dir()
    assert (outpack_dir / "files").is_dir()
    config = json.loads((outpack_dir / "config.json").read_text())
    load_schema_validator("outpack", "config.json").validate(config)
    assert config["core"] == {
        "path_archive": None,
        "use_file_store": True,
        "require_complete_tree": True,
        "hash_algorithm": "sha256",
    }
    assert config["location"] == [{"name": "local", "type": "local", "args": {}}]


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "sha384", "sha512"])
def test_init_with_archive_and_algorithm(tmp_path: Path, algorithm: str) -> None:
    root, created = init_root(
        tmp_path / "r",
        CoreConfig(path_archive="archive", use_file_store=False, hash_algorithm=algorithm),
    )
    assert created
    assert (root / "archive").is_dir()
    assert not (root / ".outpack" / "files").exists()
    config = read_config(root / ".outpack")
    assert config.core.hash_algorithm == algorithm
    assert config.core.path_archive == "archive"
    load_schema_validator("outpack", "config.json").validate(config.raw)


def test_init_requires_store_or_archive(tmp_path: Path) -> None:
    result = outpack("init", str(tmp_path / "r"))
    assert result.returncode == 1
    assert "file store" in result.stderr and "archive" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_reinit_same_settings_is_noop(tmp_path: Path) -> None:
    path = str(tmp_path / "r")
    assert outpack("init", path, "--use-file-store").returncode == 0
    config_path = tmp_path / "r" / ".outpack" / "config.json"
    before = config_path.read_bytes(), config_path.stat().st_mtime_ns
    again = outpack("init", path, "--use-file-store")
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    assert (config_path.read_bytes(), config_path.stat().st_mtime_ns) == before


def test_reinit_different_settings_names_the_setting(tmp_path: Path) -> None:
    path = str(tmp_path / "r")
    assert outpack("init", path, "--use-file-store").returncode == 0
    result = outpack("init", path, "--use-file-store", "--hash-algorithm", "md5")
    assert result.returncode == 1
    assert "hash_algorithm" in result.stderr
    assert "sha256" in result.stderr and "md5" in result.stderr
    assert result.stderr.count("\n") == 1
    assert read_config(tmp_path / "r" / ".outpack").core.hash_algorithm == "sha256"


def test_reinit_keeps_unknown_locations(copy_fixture: object) -> None:
    root = copy_fixture("outpack-example")  # type: ignore[operator]
    config_path = root / ".outpack" / "config.json"
    before = config_path.read_bytes()
    root_path, created = init_root(root, CoreConfig(require_complete_tree=True))
    assert not created
    assert config_path.read_bytes() == before
    assert root_path == root


def test_archive_must_stay_inside_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inside the root"):
        init_root(tmp_path / "r", CoreConfig(path_archive="../elsewhere", use_file_store=False))
    assert not (tmp_path / "elsewhere").exists()


def test_help_explains_every_option() -> None:
    top = outpack("--help")
    assert top.returncode == 0
    assert "init" in top.stdout
    result = outpack("init", "--help")
    assert result.returncode == 0
    for option in (
        "--use-file-store",
        "--require-complete-tree",
        "--path-archive",
        "--hash-algorithm",
    ):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["init"],
        ["init", "x", "--hash-algorithm", "crc32"],
        ["init", "x", "--bogus"],
        ["no-such-command"],
    ],
)
def test_bad_arguments_print_usage(tmp_path: Path, args: list[str]) -> None:
    result = outpack(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert not (tmp_path / "x").exists()


def test_open_without_outpack_is_clear(tmp_path: Path) -> None:
    with pytest.raises(RootNotFoundError, match="Outpack root not found at"):
        Root.open(tmp_path)


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".outpack").mkdir()
    (tmp_path / ".outpack" / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Root.open(tmp_path)
