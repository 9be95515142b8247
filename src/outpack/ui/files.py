"""How a packet file is shown: its kind, media type, previews and download name."""

from __future__ import annotations

import csv
import io
import mimetypes
import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

TEXT_PREVIEW_BYTES = 256 << 10
CSV_PREVIEW_ROWS = 100
CSV_PREVIEW_COLUMNS = 50
SNIFF_BYTES = 4096

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
HTML_EXTENSIONS = {".html", ".htm"}
CSV_EXTENSIONS = {".csv", ".tsv"}
TEXT_EXTENSIONS = {
    ".txt", ".md", ".log", ".json", ".yml", ".yaml", ".r", ".py", ".sql", ".toml",
    ".ini", ".cfg", ".rmd", ".qmd", ".tex", ".xml", ".sh", ".js", ".css",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Preview:
    kind: str  # "text", "csv", "image", "html", "binary" or "empty"
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()
    truncated: bool = False


def extension(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def media_type(path: str) -> str:
    """The Content-Type for serving a packet file (always with a charset for text)."""
    ext = extension(path)
    if ext in IMAGE_TYPES:
        return IMAGE_TYPES[ext]
    if ext in HTML_EXTENSIONS:
        return "text/html; charset=utf-8"
    if ext == ".csv":
        return "text/csv; charset=utf-8"
    if ext in TEXT_EXTENSIONS or ext == ".tsv":
        return "text/plain; charset=utf-8"
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None or guessed.startswith("text/"):
        return "application/octet-stream"
    return guessed


def content_disposition(path: str, *, inline: bool = False) -> bytes:
    """RFC 6266: an ASCII fallback name and the exact UTF-8 name (RFC 8187)."""
    name = posixpath.basename(path) or "file"
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%;' else "_" for c in name)
    kind = "inline" if inline else "attachment"
    value = f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    return value.encode("ascii")


def _looks_binary(head: bytes) -> bool:
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the end of the sample is still text.
        return err.start < len(head) - 3
    return False


def preview(path: str, stored: Path, size: int) -> Preview:
    """What the file page shows inline; reads at most TEXT_PREVIEW_BYTES."""
    ext = extension(path)
    if size == 0:
        return Preview("empty")
    if ext in IMAGE_TYPES:
        return Preview("image")
    if ext in HTML_EXTENSIONS:
        return Preview("html")
    with open(stored, "rb") as stream:
        head = stream.read(TEXT_PREVIEW_BYTES)
    if _looks_binary(head[:SNIFF_BYTES]):
        return Preview("binary")
    text = head.decode("utf-8", errors="replace")
    truncated = size > len(head)
    if ext in CSV_EXTENSIONS:
        rows = _csv_rows(text, "\t" if ext == ".tsv" else ",")
        more = truncated or len(rows) > CSV_PREVIEW_ROWS
        return Preview("csv", rows=rows[:CSV_PREVIEW_ROWS], truncated=more)
    return Preview("text", text=text, truncated=truncated)


def _csv_rows(text: str, delimiter: str) -> tuple[tuple[str, ...], ...]:
    rows = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(tuple(row[:CSV_PREVIEW_COLUMNS]))
            if len(rows) > CSV_PREVIEW_ROWS:
                break
    except csv.Error:
        pass
    return tuple(rows)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
