"""Access control: off by default, so the server stays a drop-in replacement.

Two independent switches:

* read-only mode refuses every write (403);
* a token file grants named bearer tokens `read` or `read-write` rights: a
  request without a valid token gets 401, a read token that writes gets 403.

Token file format, one token per line, `#` starts a comment:

    # name      rights      token
    packit      read        3f0c...            (the token itself, 16+ characters)
    alice       read-write  sha256:9b1d...     (or the sha256 of the token)

Tokens are compared as SHA-256 digests with `hmac.compare_digest` against every
entry, so the time taken says nothing about which entry (if any) matched, and
tokens never appear in logs or error messages.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from urllib.parse import unquote

from outpack.errors import ConfigError

READ = "read"
READ_WRITE = "read-write"
RIGHTS = (READ, READ_WRITE)
MIN_TOKEN_LENGTH = 16
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Probes and load balancers check `GET /` without credentials.
PUBLIC_PATHS = frozenset({"/"})
# The packet browser's stylesheet and script, which the sign-in page needs.
PUBLIC_PREFIXES = ("/ui/static/",)
# The browser's sign-in form posts its token here (checked by the page itself);
# neither path reads nor changes the repository.
SESSION_PATHS = frozenset({"/ui/signin", "/ui/signout"})
# The browser keeps its token in this cookie (HttpOnly, SameSite=Strict), which
# counts for reading only: a cross-site form can never write with it.
TOKEN_COOKIE = "outpack_token"
COOKIE_METHODS = frozenset({"GET", "HEAD"})
# POST only because the question is long (a list of ids or hashes): a read, allowed to
# read tokens and in read-only mode, but never with the cookie.
READING_POSTS = frozenset({"/metadata/texts", "/files/contents"})


class AccessDenied(Exception):  # noqa: N818 - reads as the verdict it is
    """The request may not proceed; `status` is 401 or 403."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class TokenEntry:
    name: str
    rights: str
    digest: bytes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_token_file(text: str, source: str = "token file") -> list[TokenEntry]:
    entries: list[TokenEntry] = []
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        parts = content.split()
        where = f"{source}, line {number}"
        if len(parts) != 3:
            raise ConfigError(f"{where}: expected '<name> <rights> <token>'")
        name, rights, token = parts
        if rights not in RIGHTS:
            raise ConfigError(f"{where}: rights must be 'read' or 'read-write', not '{rights}'")
        if name in names:
            raise ConfigError(f"{where}: the name '{name}' is used twice")
        if token.startswith("sha256:"):
            try:
                digest = bytes.fromhex(token.removeprefix("sha256:"))
            except ValueError:
                digest = b""
            if len(digest) != hashlib.sha256().digest_size:
                raise ConfigError(f"{where}: 'sha256:' must be followed by 64 hex digits")
        elif len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"{where}: the token for '{name}' is too short "
                f"(at least {MIN_TOKEN_LENGTH} characters)"
            )
        else:
            digest = _digest(token)
        names.add(name)
        entries.append(TokenEntry(name, rights, digest))
    if not entries:
        raise ConfigError(f"{source}: no tokens defined")
    return entries


def load_token_file(path: str | Path) -> list[TokenEntry]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read token file '{path}': {err}") from err
    return parse_token_file(text, f"token file '{path}'")


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def cookie_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            try:
                morsel = SimpleCookie(value.decode("latin-1")).get(TOKEN_COOKIE)
            except CookieError:
                continue
            if morsel is not None and morsel.value:
                return unquote(morsel.value)
    return None


@dataclass(frozen=True)
class AccessPolicy:
    read_only: bool = False
    tokens: tuple[TokenEntry, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.read_only or bool(self.tokens)

    def identify(self, token: str | None) -> TokenEntry | None:
        if token is None:
            return None
        presented = _digest(token)
        found: TokenEntry | None = None
        for entry in self.tokens:
            # No early exit: every entry is compared, whatever matches.
            if hmac.compare_digest(presented, entry.digest):
                found = entry
        return found

    def check(self, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
        """Raise AccessDenied, or return the name of the caller's token (if any)."""
        if path in SESSION_PATHS:
            return None
        writes = method not in SAFE_METHODS and path not in READING_POSTS
        name = None
        if self.tokens and path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
            token = bearer_token(headers)
            if token is None and method in COOKIE_METHODS:
                token = cookie_token(headers)
            entry = self.identify(token)
            if entry is None:
                raise AccessDenied(401, "A valid bearer token is required")
            if writes and entry.rights != READ_WRITE:
                raise AccessDenied(403, f"Token '{entry.name}' may only read")
            name = entry.name
        if writes and self.read_only:
            raise AccessDenied(403, "This server is read-only")
        return name
