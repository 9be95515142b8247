"""The outpack HTTP server: the API of the reference server, as an ASGI app.

`outpack.server.app.create_app` builds the app for a root; `outpack
start-server` serves it with granian (see `outpack.server.run` and
docs/server.md). Nothing is imported here, so that the command line can load
`outpack.server.preflight` without the whole server stack.
"""
