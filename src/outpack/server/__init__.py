"""The outpack HTTP server: the API of the reference server, as an ASGI app.

`create_app` builds the app for a root; `outpack start-server` serves it
with granian (see `outpack.server.run` and docs/server.md).
"""

from outpack.server.app import OutpackApp, create_app
from outpack.server.settings import ServerSettings

__all__ = ["OutpackApp", "ServerSettings", "create_app"]
