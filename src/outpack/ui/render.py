"""Jinja2 templates (autoescaped, every one of them) and the headers of a page."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import jinja2
import orjson

from outpack.server.responses import Response
from outpack.ui.files import human_size

HTML = b"text/html; charset=utf-8"
# Pages load only their own scripts, styles and frames: a value from a packet
# that escaped escaping still could not run.
PAGE_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-cache"),
)


def iso_time(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def utc_time(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))


def url_segment(text: str) -> str:
    """One URL path segment: `/` inside it is encoded, so it stays one segment."""
    return quote(text, safe="")


def parameter_text(value: object) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("outpack.ui", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    {
        "iso_time": iso_time,
        "utc_time": utc_time,
        "segment": url_segment,
        "size": human_size,
        "parameter": parameter_text,
    }
)


def page(template: str, status: int = 200, **context: Any) -> Response:
    body = _environment.get_template(template).render(**context).encode("utf-8")
    return Response(status, body, HTML, PAGE_HEADERS)
