"""HTTP-level errors, and the mapping of every exception to a status and envelope.

Domain code raises the errors of `outpack.errors`, which know nothing of HTTP;
this module is the one place that decides which status each of them gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from outpack.errors import InvalidInputError, NotFoundError, StorageError

# The `error` field of the envelope: clients read `detail`, but these strings
# are what the reference server sends, so tools that match on them keep working.
INVALID_INPUT = "invalid input parameter"
ENTITY_NOT_FOUND = "entity not found"
ROUTE_NOT_FOUND = "NOT_FOUND"
UNKNOWN_ERROR = "UNKNOWN_ERROR"


class HttpError(Exception):
    """An error that already knows its status code and envelope."""

    status = 500
    error = UNKNOWN_ERROR

    def __init__(self, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class BadRequestError(HttpError):
    status = 400
    error = INVALID_INPUT


class RouteNotFoundError(HttpError):
    status = 404
    error = ROUTE_NOT_FOUND

    def __init__(self) -> None:
        super().__init__("This route does not exist")


class MethodNotAllowedError(HttpError):
    status = 405
    error = "METHOD_NOT_ALLOWED"

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        methods = ", ".join(allowed)
        super().__init__(
            f"Method '{method}' is not allowed on this route; allowed: {methods}",
            ((b"allow", methods.encode("ascii")),),
        )


class PayloadTooLargeError(HttpError):
    status = 413
    error = "PAYLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than the limit of {limit} bytes")


class UnauthorizedError(HttpError):
    status = 401
    error = "UNAUTHORIZED"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, ((b"www-authenticate", b"Bearer"),))


class ForbiddenError(HttpError):
    status = 403
    error = "FORBIDDEN"


class RequestTimeoutError(HttpError):
    status = 408
    error = "REQUEST_TIMEOUT"

    def __init__(self, seconds: float) -> None:
        # The rest of the body may never come: the connection cannot be reused.
        super().__init__(
            f"No part of the request body arrived for {seconds:g} seconds",
            ((b"connection", b"close"),),
        )


class IncompleteBodyError(BadRequestError):
    """The client closed its side of the connection, or all of it, mid-body.

    A half-closed client still reads the answer, so it gets one (400: the
    request was incomplete); the connection is not reused either way.
    """

    def __init__(self, received: int, declared: int | None) -> None:
        of = f" of {declared}" if declared is not None else ""
        super().__init__(
            f"Request body truncated: the connection was closed after {received}{of} bytes",
            ((b"connection", b"close"),),
        )
        self.received = received
        self.declared = declared


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    status: int
    error: str
    detail: str
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # Unexpected errors are logged with their traceback; expected ones are not.
    unexpected: bool = False


def classify(err: BaseException) -> ErrorInfo:
    """The status and envelope fields for any exception a handler raised."""
    if isinstance(err, HttpError):
        return ErrorInfo(err.status, err.error, err.detail, err.headers)
    if isinstance(err, InvalidInputError):
        return ErrorInfo(400, INVALID_INPUT, err.message)
    if isinstance(err, NotFoundError):
        return ErrorInfo(404, ENTITY_NOT_FOUND, err.message)
    if isinstance(err, StorageError):
        # Disk full or permissions: the client's request was fine, and the
        # message (which names no server paths) tells the operator what to fix.
        return ErrorInfo(500, "STORAGE_ERROR", err.message, unexpected=True)
    return ErrorInfo(500, UNKNOWN_ERROR, "Something went wrong", unexpected=True)
