"""Every error outpack raises on purpose, in one tree.

    OutpackError                      base of everything below
    ├── RootNotFoundError             no `.outpack` folder at the given path
    ├── ConfigError                   config.json unreadable, invalid, or a setting conflict
    ├── InvalidInputError             something from outside is malformed (maps to HTTP 400)
    │   ├── InvalidPacketIdError      not `YYYYMMDD-HHMMSS-xxxxxxxx`
    │   ├── InvalidHashError          not `<alg>:<hex>` or wrong length
    │   │   └── UnknownAlgorithmError algorithm outside md5/sha1/sha256/sha384/sha512
    │   ├── InvalidMetadataError      metadata not UTF-8, not JSON, or missing fields
    │   ├── HashMismatchError         content does not match the hash it was sent with
    │   ├── MissingFilesError         a packet's files are not in the store
    │   └── MissingDependenciesError  a packet's dependencies are not unpacked
    ├── NotFoundError                 a packet or file that does not exist (HTTP 404)
    │   ├── PacketNotFoundError
    │   └── FileNotFoundInStoreError
    ├── StorageError                  the file system refused a write (full disk, permissions)
    ├── LocationError                 an unknown, duplicate or misconfigured location
    ├── RemoteError                   a location failed: unreachable, or it answered an error
    │   └── RemoteAuthError           a location refused our credentials (HTTP 401/403)
    └── QueryError                    the query language
        ├── QueryParseError           also a ValueError: a query that does not parse
        └── QueryEvaluationError      a query that parses but cannot be evaluated

Domain code raises these and knows nothing of HTTP; the server maps
InvalidInputError to 400 and NotFoundError to 404, and the command line prints
the message on one line.
"""

from __future__ import annotations


class OutpackError(Exception):
    """Base class of every error outpack raises deliberately."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class RootNotFoundError(OutpackError):
    def __init__(self, path: object) -> None:
        super().__init__(f"Outpack root not found at '{path}'")
        self.path = path


class ConfigError(OutpackError):
    pass


class InvalidInputError(OutpackError):
    pass


class InvalidPacketIdError(InvalidInputError):
    def __init__(self, packet_id: str) -> None:
        super().__init__(f"Invalid packet id '{packet_id}'")
        self.packet_id = packet_id


class InvalidHashError(InvalidInputError):
    pass


class UnknownAlgorithmError(InvalidHashError):
    def __init__(self, algorithm: str) -> None:
        super().__init__(f"Invalid hash algorithm '{algorithm}'")
        self.algorithm = algorithm


class InvalidMetadataError(InvalidInputError):
    pass


class HashMismatchError(InvalidInputError):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"Expected hash '{expected}' but found '{found}'")
        self.expected = expected
        self.found = found


class MissingFilesError(InvalidInputError):
    def __init__(self, packet_id: str, hashes: list[str]) -> None:
        joined = ",".join(hashes)
        super().__init__(f"Can't import metadata for {packet_id}, as files missing: \n {joined}")
        self.packet_id = packet_id
        self.hashes = hashes


class MissingDependenciesError(InvalidInputError):
    def __init__(self, packet_id: str, ids: list[str]) -> None:
        joined = ",".join(ids)
        super().__init__(
            f"Can't import metadata for {packet_id}, as dependencies missing: \n {joined}"
        )
        self.packet_id = packet_id
        self.ids = ids


class NotFoundError(OutpackError):
    pass


class PacketNotFoundError(NotFoundError):
    def __init__(self, packet_id: str) -> None:
        super().__init__(f"packet with id '{packet_id}' does not exist")
        self.packet_id = packet_id


class FileNotFoundInStoreError(NotFoundError):
    def __init__(self, hash_text: str) -> None:
        super().__init__(f"hash '{hash_text}' not found")
        self.hash = hash_text


class StorageError(OutpackError):
    pass


class LocationError(OutpackError):
    pass


class RemoteError(OutpackError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteAuthError(RemoteError):
    pass


class QueryError(OutpackError):
    pass


class QueryParseError(QueryError, ValueError):
    """A query that does not parse.

    For programs (the server, tests) the error says where, as well as the message
    people read: `query` (the text parsed), `position` (offset into it, from 0),
    `line` and `column` (both from 1) and `detail` (what was wrong or expected
    there). They are None when the error is not about one place in the query,
    such as a query over the length limit.
    """

    def __init__(  # noqa: PLR0913  # keyword-only: one per declared field
        self,
        message: str,
        *,
        query: str | None = None,
        position: int | None = None,
        line: int | None = None,
        column: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.query = query
        self.position = position
        self.line = line
        self.column = column
        self.detail = detail


class QueryEvaluationError(QueryError):
    pass
