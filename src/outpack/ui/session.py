"""Signing in with a token, and the pages shown when a page cannot be shown."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from outpack.server.auth import TOKEN_COOKIE, AccessPolicy
from outpack.server.errors import classify
from outpack.server.responses import Headers, Response
from outpack.server.routing import Request
from outpack.server.uploads import read_body
from outpack.ui.render import HTML, PAGE_HEADERS, page

FORM_LIMIT = 16 << 10
HOME = "/ui/"
TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Not allowed"}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of the interface itself."""
    if not target or not target.startswith(HOME) or "\\" in target or "//" in target:
        return HOME
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in target):
        return HOME
    return target


def redirect(location: str, *cookies: bytes) -> Response:
    headers: Headers = ((b"location", location.encode("ascii")),)
    headers += tuple((b"set-cookie", cookie) for cookie in cookies)
    return Response(303, b"", HTML, headers + PAGE_HEADERS)


def _cookie(value: str, request: Request, *, max_age: int | None = None) -> bytes:
    parts = [f"{TOKEN_COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if request.scope.get("scheme") == "https":
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode("ascii")


@dataclass
class Session:
    policy: AccessPolicy

    async def form(self, request: Request) -> Response:
        return page("signin.html", next=safe_next(request.query("next")), failed=False)

    async def sign_in(self, request: Request) -> Response:
        body = await read_body(request, FORM_LIMIT)
        fields = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        token = fields.get("token", "").strip()
        target = safe_next(fields.get("next"))
        if not self.policy.tokens:
            return redirect(target)
        if self.policy.identify(token) is None:
            return page("signin.html", 401, next=target, failed=True)
        return redirect(target, _cookie(quote(token, safe=""), request))

    async def sign_out(self, request: Request) -> Response:
        await read_body(request, FORM_LIMIT)
        return redirect(HOME + "signin", _cookie("", request, max_age=0))

    @staticmethod
    def failure(request: Request, path: str, err: BaseException) -> Response:
        """The HTML answer for an error on an interface page (the API answers JSON)."""
        info = classify(err)
        if info.status == 401:
            return redirect(f"{HOME}signin?next={quote(path, safe='/')}")
        title = TITLES.get(info.status, "Something went wrong")
        shown = page("error.html", info.status, title=title, detail=info.detail)
        return Response(shown.status, shown.body, HTML, shown.headers + info.headers)
