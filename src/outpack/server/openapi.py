"""The OpenAPI 3 description of the API, served at `/openapi.json`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from outpack import __version__
from outpack.hash import DIGEST_HEX_LENGTH, HASH_ALGORITHMS

JSON = "application/json"
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _success(data: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["status", "data", "errors"],
        "additionalProperties": False,
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "data": data,
            "errors": {"nullable": True, "enum": [None]},
        },
    }


# What a packet's summary holds, in Packit's list and in search results.
PACKET_FIELDS: dict[str, Schema] = {
    "id": _ref("PacketId"),
    "name": {"type": "string"},
    "parameters": {"type": "object", "nullable": True},
    "time": {
        "type": "object",
        "properties": {"start": {"type": "number"}, "end": {"type": "number"}},
    },
}

COMPONENTS: dict[str, Schema] = {
    "PacketId": {"type": "string", "pattern": "^[0-9]{8}-[0-9]{6}-[0-9a-fA-F]{8}$"},
    "Hash": {
        "type": "string",
        "pattern": "^("
        + "|".join(f"{name}:[0-9a-fA-F]{{{DIGEST_HEX_LENGTH[name]}}}" for name in HASH_ALGORITHMS)
        + ")$",
        "description": "`<algorithm>:<hex digest>`",
    },
    "LookupHash": {
        "type": "string",
        "pattern": r"^\s*(" + "|".join(HASH_ALGORITHMS) + r"):[0-9a-fA-F]+\s*$",
        "description": "a hash to look up, read as loosely as the reference server reads it: "
        "any number of hex digits (a digest of the wrong length is simply absent), "
        "surrounding whitespace allowed",
    },
    "Failure": {
        "type": "object",
        "required": ["status", "data", "errors"],
        "properties": {
            "status": {"type": "string", "enum": ["failure"]},
            "data": {"nullable": True, "enum": [None]},
            "errors": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {
                        "error": {"type": "string"},
                        "detail": {"type": "string", "nullable": True},
                    },
                },
            },
        },
    },
    "Root": {
        "type": "object",
        "required": ["schema_version"],
        "additionalProperties": False,
        "properties": {"schema_version": {"type": "string"}},
    },
    "LocationEntry": {
        "type": "object",
        "required": ["packet", "time", "hash"],
        "properties": {
            "packet": _ref("PacketId"),
            "time": {"type": "number", "description": "when the packet became known there"},
            "hash": _ref("Hash"),
        },
    },
    "PackitPacket": {
        "type": "object",
        "required": ["id", "name"],
        "additionalProperties": False,
        "properties": {**PACKET_FIELDS, "custom": {"type": "object", "nullable": True}},
    },
    "SearchResult": {
        "type": "object",
        "required": ["query", "total", "page", "per_page", "packets"],
        "properties": {
            "query": {"type": "string"},
            "total": {"type": "integer", "description": "matching packets in all pages"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "packets": {"type": "array", "items": _ref("PacketSummary")},
        },
    },
    "PacketSummary": {
        "type": "object",
        "required": ["id", "name", "parameters", "time", "display"],
        "properties": {
            **PACKET_FIELDS,
            "display": {
                "type": "string",
                "nullable": True,
                "description": "`custom.orderly.description.display`, when present",
            },
        },
    },
    "MissingPacketsRequest": {
        "type": "object",
        "required": ["ids", "unpacked"],
        "properties": {
            "ids": {"type": "array", "items": _ref("PacketId")},
            "unpacked": {"type": "boolean"},
        },
    },
    "MissingFilesRequest": {
        "type": "object",
        "required": ["hashes"],
        "properties": {"hashes": {"type": "array", "items": _ref("LookupHash")}},
    },
    "MetadataTextsRequest": {
        "type": "object",
        "required": ["ids"],
        "properties": {"ids": {"type": "array", "items": _ref("PacketId"), "maxItems": 10000}},
    },
    "FileContentsRequest": {
        "type": "object",
        "required": ["hashes"],
        "properties": {"hashes": {"type": "array", "items": {"type": "string"}, "maxItems": 10000}},
    },
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _failure(description: str) -> Schema:
    return _json(_ref("Failure"), description)


BAD_INPUT = _failure("malformed input: `errors[0].detail` says what was wrong")
NOT_FOUND = _failure("no such packet or file")
TOO_LARGE = _failure("request body over the server's limit")
UNAUTHORIZED = _failure("no valid bearer token (only when the server has a token file)")
FORBIDDEN = _failure("a read-only server, or a read token that tries to write")
TIMED_OUT = _failure("the request body stopped arriving")
NULL_OK = _json(_success({"nullable": True, "enum": [None]}), "stored (or already present)")


def _path_parameter(name: str, schema: Schema, description: str = "") -> Schema:
    described = {"description": description} if description else {}
    return {"name": name, "in": "path", "required": True, "schema": schema, **described}


_ID = _path_parameter("id", _ref("PacketId"))
# As in the reference, the metadata routes check no format: any other id is a 404.
_ANY_ID = _path_parameter(
    "id", {"type": "string"}, "a packet id; anything that is not a packet here is not found"
)
_HASH = _path_parameter("hash", _ref("Hash"))
_LOOKUP_HASH = _path_parameter("hash", _ref("LookupHash"))

OPERATIONS: dict[str, dict[str, Schema]] = {
    "/": {
        "get": {
            "summary": "Server and schema version",
            "responses": {"200": _json(_success(_ref("Root")), "the schema version")},
        }
    },
    "/metadata/list": {
        "get": {
            "summary": "Every known packet, once, from the first location listing it",
            "responses": {
                "200": _json(_success({"type": "array", "items": _ref("LocationEntry")}), "packets")
            },
        }
    },
    "/metadata/{id}/json": {
        "get": {
            "summary": "A packet's metadata as JSON",
            "parameters": [_ANY_ID],
            "responses": {
                "200": _json(_success({"type": "object"}), "the metadata document"),
                "404": NOT_FOUND,
            },
        }
    },
    "/metadata/{id}/text": {
        "get": {
            "summary": "A packet's metadata, the exact stored bytes (not enveloped)",
            "parameters": [_ANY_ID],
            "responses": {
                "200": {
                    "description": "the stored bytes",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "404": NOT_FOUND,
            },
        }
    },
    "/metadata/texts": {
        "post": {
            "summary": "Many packets' exact metadata bytes at once (not enveloped; an outpack "
            "extension, absent from the Rust server)",
            "description": 'Body `{"ids": [...]}`, at most 10,000 ids. The answer holds one '
            "frame per id, in the order asked: the id, a space, the length in bytes as decimal "
            "digits and a newline, then exactly that many bytes of metadata (as `GET "
            "/metadata/{id}/text` would send them), then a newline. Clients check each text "
            "against the hash in `/metadata/list`. A malformed id is a 400, an id not here a "
            "404 (enveloped JSON), and then nothing else is sent.",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": _ref("MetadataTextsRequest")}},
            },
            "responses": {
                "200": {
                    "description": "the framed metadata texts",
                    "content": {
                        "application/vnd.outpack.metadata-texts": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "400": BAD_INPUT,
                "404": NOT_FOUND,
                "413": TOO_LARGE,
            },
        }
    },
    "/checksum": {
        "get": {
            "summary": "Hash of the sorted, concatenated ids of all packets with metadata",
            "parameters": [
                {
                    "name": "alg",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": list(HASH_ALGORITHMS)},
                }
            ],
            "responses": {"200": _json(_success(_ref("Hash")), "the checksum"), "400": BAD_INPUT},
        }
    },
    "/packit/metadata": {
        "get": {
            "summary": "Summaries of every packet, optionally only those known since a time",
            "parameters": [
                {
                    "name": "known_since",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "number"},
                }
            ],
            "responses": {
                "200": _json(
                    _success({"type": "array", "items": _ref("PackitPacket")}), "summaries"
                ),
                "400": BAD_INPUT,
            },
        }
    },
    "/file/{hash}": {
        "get": {
            "summary": "Download a stored file (not enveloped)",
            "parameters": [_LOOKUP_HASH],
            "responses": {
                "200": {
                    "description": "the file's bytes",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "400": BAD_INPUT,
                "404": NOT_FOUND,
            },
        },
        "post": {
            "summary": "Upload a file; its body must hash to the hash in the path",
            "parameters": [_HASH],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            "responses": {"200": NULL_OK, "400": BAD_INPUT},
        },
    },
    "/packets/missing": {
        "post": {
            "summary": "Which of these packets are absent (unpacked: not in location/local)",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": _ref("MissingPacketsRequest")}},
            },
            "responses": {
                "200": _json(_success({"type": "array", "items": _ref("PacketId")}), "ids"),
                "400": BAD_INPUT,
                "413": TOO_LARGE,
            },
        }
    },
    "/files/missing": {
        "post": {
            "summary": "Which of these files are absent from the store, in request order",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": _ref("MissingFilesRequest")}},
            },
            "responses": {
                "200": _json(
                    _success({"type": "array", "items": {"type": "string"}}),
                    "the hashes asked about that are absent, as they were written",
                ),
                "400": BAD_INPUT,
                "413": TOO_LARGE,
            },
        }
    },
    "/files/contents": {
        "post": {
            "summary": "Many files' bytes at once (not enveloped; an outpack extension, absent "
            "from the Rust server)",
            "description": 'Body `{"hashes": [...]}`, at most 10,000 hashes. The answer '
            "(with a `Content-Length`) holds one frame per hash, in the order asked: the hash, "
            "a space, the file's length in bytes as decimal digits and a newline, then exactly "
            "that many bytes (as `GET /file/{hash}` would send them), then a newline. Clients "
            "check each file against its hash. A malformed hash is a 400, a file not here a "
            "404 (enveloped JSON), and then nothing else is sent.",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": _ref("FileContentsRequest")}},
            },
            "responses": {
                "200": {
                    "description": "the framed files",
                    "content": {
                        "application/vnd.outpack.file-contents": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "400": BAD_INPUT,
                "404": NOT_FOUND,
                "413": TOO_LARGE,
            },
        }
    },
    "/packet/{hash}": {
        "post": {
            "summary": "Import a packet's metadata (its files and dependencies must be present)",
            "parameters": [_HASH],
            "requestBody": {
                "required": True,
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "responses": {"200": NULL_OK, "400": BAD_INPUT, "413": TOO_LARGE},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text exposition format 0.0.4)",
            "responses": {
                "200": {
                    "description": "metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/search": {
        "get": {
            "summary": "Packets matching a query, newest first, a page at a time",
            "description": "The outpack query language, evaluated as by `outpack search` "
            "(including `usedby`/`uses`). A query that does not parse is a 400 whose "
            "`errors[0].detail` is the parser's message and `errors[0].position` says "
            "where (`offset` from 0, `line` and `column` from 1).",
            "parameters": [
                {
                    "name": "query",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": 'e.g. `latest(name == "data")`; empty or absent: all',
                },
                {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "default": 1},
                },
                {
                    "name": "per_page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                },
            ],
            "responses": {
                "200": _json(_success(_ref("SearchResult")), "one page of matches"),
                "400": BAD_INPUT,
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This description",
            "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
        }
    },
}


def openapi_document(patterns: Iterable[str], *, ui: bool = False) -> dict[str, Any]:
    """The document for exactly these route patterns (each must be described above)."""
    paths: dict[str, dict[str, Schema]] = {}
    for pattern in patterns:
        described = {
            method: _with_common_answers(pattern, method, operation)
            for method, operation in OPERATIONS[pattern].items()
        }
        paths[pattern] = _with_head(described)
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "outpack server",
            "version": __version__,
            "description": "Serves one outpack root to orderly2, pyorderly and Packit. Every "
            "JSON answer is an envelope: "
            '`{"status": "success"|"failure", "data": ..., "errors": null|[...]}`.',
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if ui:
        document["externalDocs"] = {
            "description": "The packet browser: this repository's packets in a web browser",
            "url": "/ui/",
        }
    return document


# Answers cached by content: pollers send the tag back and get a bodiless 304.
CACHED_LISTS = frozenset(("/metadata/list", "/checksum", "/packit/metadata"))
NOT_MODIFIED = {"description": "unchanged since the ETag sent in If-None-Match (no body)"}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "an ETag from an earlier answer",
}


def _with_common_answers(pattern: str, method: str, operation: Schema) -> Schema:
    """Add the answers every route shares: access control (docs/operations.md) and 304s."""
    if pattern == "/":
        return operation
    responses = dict(operation["responses"])
    extra: Schema = {}
    if pattern in CACHED_LISTS:
        responses["304"] = NOT_MODIFIED
        extra["parameters"] = [*operation.get("parameters", []), IF_NONE_MATCH]
    responses["401"] = UNAUTHORIZED
    if method == "post":
        responses["403"] = FORBIDDEN
        responses["408"] = TIMED_OUT
    # Optional: `{}` means no credentials, which is the default set-up.
    return {**operation, **extra, "responses": responses, "security": [{}, {"bearer": []}]}


def _with_head(operations: dict[str, Schema]) -> dict[str, Schema]:
    """Every GET also answers HEAD: the same status and headers, no body."""
    get = operations.get("get")
    if get is None:
        return operations
    responses = {
        status: {"description": answer["description"]}
        for status, answer in get["responses"].items()
    }
    head = {**get, "summary": f"{get['summary']}: headers only", "responses": responses}
    return {**operations, "head": head}
