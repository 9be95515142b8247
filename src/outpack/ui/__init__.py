"""The packet browser: read-only HTML pages under `/ui/`, and `GET /search` for programs.

data.py       the one adapter through which everything reads the repository
pages.py      home, search, packet and file pages
downloads.py  a packet's files (one, or all as a streamed zip) and the assets
session.py    signing in with a token; error pages
api.py        the JSON search route
graph.py      the dependency graph's layout; zipstream.py the zip writer
files.py      how a file is shown; render.py the Jinja2 templates
"""

from __future__ import annotations

from outpack.root import Root
from outpack.server.auth import AccessPolicy
from outpack.server.responses import Response
from outpack.server.routing import Request, Route
from outpack.server.state import ServerState
from outpack.ui.api import SearchApi
from outpack.ui.data import UiData
from outpack.ui.downloads import Downloads
from outpack.ui.pages import Pages
from outpack.ui.session import Session, redirect

PREFIX = "/ui/"


class UserInterface:
    def __init__(self, root: Root, state: ServerState, policy: AccessPolicy) -> None:
        data = UiData(root, state)
        self.pages = Pages(data, sign_out=bool(policy.tokens))
        self.downloads = Downloads(data)
        self.session = Session(policy)
        self.api = SearchApi(data)

    def routes(self) -> list[Route]:
        pages, downloads, session = self.pages, self.downloads, self.session
        return [
            Route("/ui", {"GET": self._to_home}),
            Route("/ui/", {"GET": pages.home}),
            Route("/ui/search", {"GET": pages.search}),
            Route("/ui/packet/{id}", {"GET": pages.packet}),
            Route("/ui/packet/{id}/file/{path}", {"GET": pages.file}),
            Route("/ui/packet/{id}/raw/{path}", {"GET": downloads.raw}),
            Route("/ui/packet/{id}/zip", {"GET": downloads.zip}),
            Route("/ui/static/{name}", {"GET": downloads.asset}),
            Route("/ui/signin", {"GET": session.form, "POST": session.sign_in}),
            Route("/ui/signout", {"POST": session.sign_out}),
        ]

    def api_routes(self) -> list[Route]:
        return [Route("/search", {"GET": self.api.search})]

    @staticmethod
    async def _to_home(request: Request) -> Response:
        return redirect(PREFIX)

    @staticmethod
    def owns(path: str) -> bool:
        return path == "/ui" or path.startswith(PREFIX)

    def failure(self, request: Request, path: str, err: BaseException) -> Response:
        return self.session.failure(request, path, err)
