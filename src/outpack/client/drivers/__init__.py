"""Drivers per location type; `open_driver` picks the one a configured location needs."""

from __future__ import annotations

from outpack.client.drivers.base import Driver, RemoteEntry
from outpack.client.drivers.http import HttpDriver
from outpack.client.drivers.packit import packit_driver
from outpack.client.drivers.path import PathDriver
from outpack.client.drivers.session import Session
from outpack.client.locations import find_location, resolve_path
from outpack.errors import LocationError, RootNotFoundError
from outpack.location import LOCAL
from outpack.root import Root

__all__ = ["Driver", "RemoteEntry", "open_driver"]


def open_driver(root: Root, name: str, jobs: int = 8) -> Driver:
    """The driver of location `name` of `root`; LocationError if it cannot be used."""
    if name == LOCAL:
        raise LocationError("'local' is this root itself, not a location to transfer with")
    location = find_location(root, name)
    args = location.args
    if location.type == "path":
        target = str(args.get("path", ""))
        try:
            other = Root.open(resolve_path(root, target))
        except RootNotFoundError as err:
            raise LocationError(
                f"Location '{name}': no outpack root at '{target}' any more"
            ) from err
        return PathDriver(other, f"location '{name}' ({target})")
    if location.type == "http":
        url = str(args.get("url", "")).rstrip("/")
        session = Session(
            url,
            f"location '{name}' ({url})",
            auth_hint="This server needs a token: add it as a packit location with --token-env.",
            pool_size=max(jobs, 4),
        )
        return HttpDriver(session, jobs)
    if location.type == "packit":
        return packit_driver(name, args, jobs)
    raise LocationError(f"Location '{name}' has type '{location.type}', which outpack cannot use")
