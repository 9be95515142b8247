"""Checks run before listening, with the reference server's messages.

The server writes only through the content-addressed store and requires a
complete tree, so a root configured otherwise is refused up front rather
than served half-correctly.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from outpack.config import OUTPACK_DIR
from outpack.errors import ConfigError, RootNotFoundError
from outpack.root import Root
from outpack.server.auth import load_token_file

REQUIRED_ALGORITHM = "sha256"
# Temporary files are written to continuously while in use; one untouched for
# this long belongs to an upload that was cut off (a worker killed at shutdown).
STALE_TEMP_SECONDS = 24 * 3600


def preflight(path: str) -> Root:
    """The opened root, or RootNotFoundError / ConfigError with the spec's message."""
    if not (Path(path) / OUTPACK_DIR).is_dir():
        raise RootNotFoundError(path)
    root = Root.open(path)
    core = root.config.core
    if not core.use_file_store:
        raise ConfigError("Outpack must be configured to use a file store")
    if not core.require_complete_tree:
        raise ConfigError("Outpack must be configured to require a complete tree")
    if core.hash_algorithm != REQUIRED_ALGORITHM:
        raise ConfigError(
            f"Outpack must be configured to use hash algorithm '{REQUIRED_ALGORITHM}', "
            f"but you are using '{core.hash_algorithm}'"
        )
    if core.path_archive is not None:
        raise ConfigError(
            "Outpack must be configured to *not* use an archive, "
            f"but your path_archive is '{core.path_archive}'"
        )
    return root


def check_token_file(path: str | None) -> str | None:
    """The token file's absolute path, after checking it parses (ConfigError if not).

    Workers read the file again when they start; checking it here turns a
    mistake into one clear line before anything listens, instead of every
    worker failing to start.
    """
    if path is None:
        return None
    load_token_file(path)
    return str(Path(path).resolve())


def remove_stale_temp_files(root: Root, max_age: float = STALE_TEMP_SECONDS) -> int:
    """Remove abandoned temporary files (`tmp-*`) from `.outpack/tmp`; returns how many."""
    cutoff = time.time() - max_age
    removed = 0
    try:
        entries = list(os.scandir(root.tmp_dir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if (
                entry.name.startswith("tmp-")
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < cutoff
            ):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # gone already, or not ours to remove
    return removed
