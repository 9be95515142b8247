"""Progress: bars on a terminal, nothing otherwise; the parallel runner's failures."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from rich.console import Console

from outpack.client import Options, add_location, pull
from outpack.client.transfer import RichProgress, SilentProgress, make_progress, run_parallel
from outpack.errors import RemoteError
from tests.client.conftest import new_root


def test_bars_on_a_terminal(chain: tuple[Path, list[str]], tmp_path: Path) -> None:
    source, (_, _, c, _) = chain
    dest = add_location(new_root(tmp_path / "dest"), "src", "path", str(source))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=150, color_system=None)
    pull(dest, c, options=Options(progress=RichProgress(console)))
    shown = screen.getvalue()
    for text in ("metadata from src", "files", "packets", "4/4", "Fetched src: 4 packets, 4 new",
                 "Pulled 3 packets"):  # fmt: skip
        assert text in shown, (text, shown)


def test_quiet_or_not_a_terminal_means_silent() -> None:
    assert isinstance(make_progress(quiet=True), SilentProgress)
    assert isinstance(make_progress(quiet=False), SilentProgress)  # pytest's stderr is no tty


def test_run_parallel_raises_the_first_failure_and_stops() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def action(item: int) -> None:
        if item == 5:
            raise RemoteError("boom")
        with lock:
            seen.append(item)

    with pytest.raises(RemoteError, match="boom"):
        run_parallel(action, range(10_000), jobs=4)
    assert len(seen) < 10_000  # the rest was never submitted
    run_parallel(action, [1, 2, 3], jobs=4)
    assert {1, 2, 3} <= set(seen)
