"""A `packit` location: Packit's outpack routes under `<url>/api/outpack/`, with a token.

The token comes from the environment variable named in `args.token` as
`$VARIABLE` (orderly2's convention, what `outpack location add --token-env`
writes); a literal token written there by another client is used as it is.
"""

from __future__ import annotations

import os
from typing import Any

from outpack.client.drivers.http import HttpDriver
from outpack.client.drivers.session import Session
from outpack.errors import LocationError


def packit_token(name: str, args: dict[str, Any]) -> tuple[str, str]:
    """(token, how to fix it): the token itself and a hint naming where it came from."""
    token = args.get("token")
    if not isinstance(token, str) or not token:
        raise LocationError(
            f"Packit location '{name}' has no token: remove it and add it again with "
            "--token-env VAR, VAR holding a Packit token"
        )
    if not token.startswith("$"):
        return token, f"Check the token stored in config.json for location '{name}'."
    variable = token[1:]
    value = os.environ.get(variable)
    if not value:
        raise LocationError(
            f"Environment variable '{variable}' (the token of packit location '{name}') is not set"
        )
    hint = f"Check the Packit token in ${variable}: it may be expired or lack permissions."
    return value, hint


def packit_driver(name: str, args: dict[str, Any], jobs: int) -> HttpDriver:
    url = str(args.get("url", "")).rstrip("/")
    token, hint = packit_token(name, args)
    session = Session(
        f"{url}/api/outpack/",
        f"location '{name}' ({url})",
        headers={"Authorization": f"Bearer {token}"},
        auth_hint=hint,
        pool_size=max(jobs, 4),
    )
    return HttpDriver(session, jobs)
