"""Pytest fixture ``hub_server``: a local Hub (``tests/hub_server.py``), registered in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from localhub.limits import HUB_LIMITS, Limits, VirtualClock
from store.factory import DERIVED_COLLECTIONS
from tests.hub_server import HubServer


@pytest.fixture(name="hub_server")
def hub_server_fixture(request: pytest.FixtureRequest) -> Iterator[HubServer]:
    """A fresh, empty local Hub for one test, stopped afterwards.

    It counts its traffic but refuses nothing, unless the test is marked ``@pytest.mark.hub_limits``: then it
    enforces the Hub's limits (``localhub.limits.HUB_LIMITS``; keyword arguments set single numbers, e.g.
    ``@pytest.mark.hub_limits(resolver_calls=20)``) on a virtual clock that stands still until the test
    moves it (``hub_server.limits.clock.advance(3600)``)."""
    marker = request.node.get_closest_marker("hub_limits")
    limits = Limits(replace(HUB_LIMITS, **marker.kwargs), VirtualClock()) if marker else None
    with HubServer(limits=limits) as server:
        yield server


def add_store_datasets(server: HubServer, *repos: str) -> None:
    """Create the dataset repos the Space's store uses when configured by ``REQUESTS_DATASET`` /
    ``RESULTS_DATASET`` (the first named ``*/results`` also gets its ``-details``, ``-votes`` and ``-boards``
    datasets, as ``store.factory`` derives them); ``*/private`` is made private."""
    for repo in repos:
        server.add_dataset(repo, private=repo.endswith("/private"))
        if repo.endswith("/results"):
            for collection in DERIVED_COLLECTIONS:
                server.add_dataset(f"{repo}-{collection}")
