"""HTTP for the http and packit drivers: one pooled connection set, retries, clear errors.

Connections are reused across requests and threads (urllib3's pool, sized for
the number of parallel transfers). Connection failures and 5xx answers are
retried with exponential backoff; 4xx answers never are. Every failure ends
as a RemoteError whose message says which location failed and what to do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from outpack.errors import RemoteAuthError, RemoteError

T = TypeVar("T")
RETRIES = 5
BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
TIMEOUT = urllib3.Timeout(connect=10.0, read=300.0)
Response = urllib3.BaseHTTPResponse


def error_detail(body: bytes) -> str | None:
    """The message of an outpack envelope (`errors[0].detail`) or a Packit error."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail"))
    error = document.get("error")
    if isinstance(error, dict) and "detail" in error:
        return str(error["detail"])
    return None


class Session:
    def __init__(
        self,
        base_url: str,
        label: str,
        *,
        headers: dict[str, str] | None = None,
        auth_hint: str = "",
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.label = label
        self.auth_hint = auth_hint
        self.retries = RETRIES
        self._headers = dict(headers or {})
        self._pool = urllib3.PoolManager(
            maxsize=pool_size, block=False, retries=False, timeout=TIMEOUT
        )

    def close(self) -> None:
        self._pool.clear()

    def request(self, method: str, path: str, *, stream: bool = False, **options: Any) -> Response:
        """One request; an error answer (status >= 400) raises RemoteError."""
        headers = {**self._headers, **options.pop("headers", {})}
        try:
            response = self._pool.request(
                method,
                self.base_url + path,
                headers=headers,
                preload_content=not stream,
                redirect=False,
                **options,
            )
        except Urllib3Error as err:
            raise RemoteError(f"Cannot reach {self.label}: {_reason(err)}") from err
        if response.status >= 400:
            self._raise_for(response)
        return response

    def _raise_for(self, response: Response) -> None:
        body = response.data
        response.release_conn()
        detail = error_detail(body) or body[:200].decode("utf-8", "replace").strip()
        status = response.status
        if status in (401, 403):
            verb = "needs credentials" if status == 401 else "refused access"
            raise RemoteAuthError(
                f"{self.label} {verb} ({status}: {detail}). {self.auth_hint}".rstrip(), status
            )
        raise RemoteError(f"{self.label} answered {status}: {detail}", status)

    def retrying(self, action: Callable[[], T]) -> T:
        """Run `action`, again after a pause on connection errors and 5xx answers."""
        for attempt in range(self.retries + 1):
            try:
                return action()
            except RemoteError as err:
                if not _transient(err) or attempt == self.retries:
                    raise
            except Urllib3Error as err:
                # A connection lost while reading a streamed body.
                if attempt == self.retries:
                    raise RemoteError(f"Lost connection to {self.label}: {_reason(err)}") from err
            time.sleep(min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, path: str) -> Any:
        return self._data(self.retrying(lambda: self.request("GET", path)))

    def post_json(self, path: str, body: Any) -> Any:
        payload = orjson.dumps(body)
        headers = {"Content-Type": "application/json"}
        return self._data(
            self.retrying(lambda: self.request("POST", path, body=payload, headers=headers))
        )

    def _data(self, response: Response) -> Any:
        try:
            document = orjson.loads(response.data)
            return document["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as err:
            raise RemoteError(f"{self.label} sent an answer that is not an outpack one") from err


def _transient(err: RemoteError) -> bool:
    return err.status is None or err.status >= 500


def _reason(err: Exception) -> str:
    reason = getattr(err, "reason", None) or err
    text = str(reason)
    # urllib3 prefixes messages with an object's repr: keep the human part.
    return re.sub(r"^(<[^>]*>|\w+\([^)]*\)): ", "", text)
