"""Fixtures for the security tests, from the server tests: sample roots, servers, clients."""

from __future__ import annotations

from tests.server.conftest import make_client, sample, start_server

__all__ = ["make_client", "sample", "start_server"]
