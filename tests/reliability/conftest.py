"""Fixtures for the reliability tests: real servers, from the server tests."""

from __future__ import annotations

from tests.server.conftest import start_server

__all__ = ["start_server"]
