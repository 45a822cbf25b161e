"""Pytest fixture ``hub_server``: a local Hub (``tests/hub_server.py``), registered in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub_server import HubServer


@pytest.fixture(name="hub_server")
def hub_server_fixture() -> Iterator[HubServer]:
    """A fresh, empty local Hub for one test, stopped afterwards."""
    with HubServer() as server:
        yield server
