"""Pytest fixture for the local Hub (``tests/hub_server.py``); test modules import it explicitly:

    from tests.hub_fixtures import hub_server  # noqa: F401  (pytest fixture)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub_server import HubServer


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A fresh, empty local Hub for one test, stopped afterwards."""
    with HubServer() as server:
        yield server
