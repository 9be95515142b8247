"""outpack as a client: locations, fetch, pull, push and mirror.

    from outpack.client import add_location, fetch, pull, push, mirror
    root = add_location(Root.open("."), "server", "http", "http://host:8000")
    fetch(root)                                  # what each location holds
    pull(root, 'latest(name == "data")', options=Options(jobs=4))  # and dependencies
    push(root, "20240101-120000-abcdef01", "server")
    mirror(root, "server")                       # everything it holds

Module map: `locations` (config.json entries), `drivers` (path, http,
packit), `fetch`, `plan`, `pull` (and mirror), `push`, `transfer` (threads
and progress) and `archive`; `outpack.metadata_texts` frames the bulk metadata
route's body.
"""

from __future__ import annotations

from outpack.client.fetch import FetchResult, fetch
from outpack.client.locations import (
    LocationInfo,
    add_location,
    list_locations,
    remove_location,
    rename_location,
)
from outpack.client.pull import PullResult, mirror, pull
from outpack.client.push import PushResult, push
from outpack.client.transfer import DEFAULT_JOBS, Options, make_progress

__all__ = [
    "DEFAULT_JOBS",
    "FetchResult",
    "LocationInfo",
    "Options",
    "PullResult",
    "PushResult",
    "add_location",
    "fetch",
    "list_locations",
    "make_progress",
    "mirror",
    "pull",
    "push",
    "remove_location",
    "rename_location",
]
