"""Packet ids: `YYYYMMDD-HHMMSS-xxxxxxxx`, sortable by start time."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterable

from outpack.errors import InvalidPacketIdError

PACKET_ID_PATTERN = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-fA-F]{8}$")


def is_packet_id(text: str) -> bool:
    return PACKET_ID_PATTERN.fullmatch(text) is not None


def validate_packet_id(text: str) -> str:
    """Return the id unchanged, or raise InvalidPacketIdError."""
    if not is_packet_id(text):
        raise InvalidPacketIdError(text)
    return text


def new_packet_id(now: float | None = None) -> str:
    """A fresh id: UTC start time, four hex digits of sub-second time, four random."""
    moment = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(moment))
    fraction = int((moment % 1) * 0x10000) & 0xFFFF
    return f"{stamp}-{fraction:04x}{secrets.token_hex(2)}"


def packet_ids_among(names: Iterable[str]) -> list[str]:
    """The names that are packet ids, sorted; anything else is ignored."""
    return sorted(name for name in names if PACKET_ID_PATTERN.fullmatch(name))


def packet_ids_in(directory: str | os.PathLike[str]) -> list[str]:
    """The entries of a folder that are packet ids, sorted; anything else is ignored."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return packet_ids_among(names)
