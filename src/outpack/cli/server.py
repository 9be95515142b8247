"""`outpack start-server`: serve a root over HTTP to orderly2, pyorderly and Packit."""

from __future__ import annotations

import argparse

from outpack.server.preflight import check_token_file, preflight, remove_stale_temp_files
from outpack.server.settings import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    ServerSettings,
    parse_listen,
)


def _listen(text: str) -> tuple[str, int]:
    try:
        return parse_listen(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not '{text}'") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "start-server",
        help="serve an outpack root over HTTP",
        description=(
            "Serve the outpack root at --root over HTTP, with the API of the reference "
            "outpack server (used by orderly2, pyorderly and Packit). The root must use a "
            "sha256 file store, require a complete tree and have no archive. Stops on "
            "SIGTERM or SIGINT."
        ),
    )
    parser.add_argument("--root", required=True, metavar="PATH", help="the outpack root to serve")
    parser.add_argument(
        "--listen",
        type=_listen,
        default=("0.0.0.0", 8000),
        metavar="HOST:PORT",
        help="address to listen on (default: 0.0.0.0:8000)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="number of worker processes (default: %(default)s); each sees what the "
        "others write on its next request",
    )
    parser.add_argument(
        "--max-body-size",
        type=_positive,
        default=DEFAULT_MAX_BODY_SIZE,
        metavar="BYTES",
        help="largest metadata or JSON request body accepted (default: %(default)s); "
        "file uploads are streamed and not limited",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=_positive,
        default=5,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long requests in flight may take to finish "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--body-timeout",
        type=_seconds,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help="answer 408 and drop an upload when the client sends nothing for this long "
        "(default: %(default)g)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="close a connection whose request headers take longer than this "
        "(default: %(default)g)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="refuse every write (POST) with 403",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="require bearer tokens, with the rights given in FILE "
        "(lines of '<name> read|read-write <token or sha256:hex>'); see docs/operations.md",
    )
    parser.add_argument(
        "--no-ui",
        action="store_true",
        help="do not serve the packet browser (the web pages under /ui/)",
    )
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="info",
        help="server log level (default: %(default)s)",
    )
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="do not write a JSON line per request to stderr",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = preflight(args.root)
    token_file = check_token_file(args.token_file)
    remove_stale_temp_files(root)
    # Imported only here: every `outpack` command loads this module to build
    # its parser, and only this one needs granian and the app.
    from outpack.server.run import RunOptions, serve  # noqa: PLC0415

    host, port = args.listen
    if not args.no_ui:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        print(f"Packet browser: http://{shown}:{port}/ui/", flush=True)
    settings = ServerSettings(
        root=str(root.path.resolve()),
        max_body_size=args.max_body_size,
        access_log=not args.no_access_log,
        read_only=args.read_only,
        token_file=token_file,
        body_timeout=args.body_timeout,
        ui=not args.no_ui,
    )
    serve(
        settings,
        RunOptions(
            host=host,
            port=port,
            workers=args.workers,
            log_level=args.log_level,
            shutdown_timeout=args.shutdown_timeout,
            header_timeout=args.header_timeout,
        ),
    )
    return 0
