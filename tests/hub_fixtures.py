"""Pytest fixture ``hub_server``: a local Hub (``tests/hub_server.py``). There is no conftest.py, so a test
module imports it explicitly::

    from tests.hub_fixtures import hub_server_fixture  # noqa: F401  (provides the hub_server fixture)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub_server import HubServer


@pytest.fixture(name="hub_server")
def hub_server_fixture() -> Iterator[HubServer]:
    """A fresh, empty local Hub for one test, stopped afterwards."""
    with HubServer() as server:
        yield server
