"""Test-wide settings."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests' models are tiny: torch gains nothing from more threads, and on a busy 2-core machine two
    spinning threads made generation-heavy suites (hundreds of tiny steps) about ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def own_hub_cache(tmp_path_factory, monkeypatch):
    """Each test (and any app it starts) keeps the Hub store's disk cache of snapshots in a folder of its own,
    never in the user's ~/.cache, so no test reads another's data from an earlier "outage"."""
    monkeypatch.setenv("HUB_CACHE_DIR", str(tmp_path_factory.mktemp("hub-cache")))


from tests.hub_fixtures import hub_server_fixture  # noqa: F401  (the local Hub, as fixture "hub_server")
from tests.postgres import postgres_server_fixture, postgres_url_fixture  # noqa: F401  (real PostgreSQL)
from tests.sandbox_fixtures import host_server, no_bwrap  # noqa: F401  (sandbox fixtures)
from tests.space_oauth import space_oauth  # noqa: F401  (a Space with hf_oauth, as fixture "space_oauth")
from tests.sql_fixtures import (  # noqa: F401  (SQLite and PostgreSQL, as fixture "sql_url"; rows parsed)
    sql_rows_parsed_fixture,
    sql_url_fixture,
)
