"""Pick the store from the environment, as a Space configures it.

The live collections (``requests``: the queue, its claims, heartbeats and progress; ``votes``) go to a SQL
database (:class:`store.sql.SqlStore`): ``DATABASE_URL`` (PostgreSQL, ``postgresql+psycopg://...``, for several
replicas and GPU workers), by default SQLite in ``<LEADERBOARD_DATA_DIR or ./data>/live.sqlite3``. Its first
open imports the requests and votes the published store already holds (an upgrade loses none). The other
collections go to the published store:

- ``REQUESTS_DATASET`` + ``RESULTS_DATASET`` (+ ``DETAILS_DATASET``, ``VOTES_DATASET``, ``BOARDS_DATASET``,
  ``PRIVATE_DATASET``, ``HF_TOKEN``): ``HubStore`` on those dataset repos, one per collection (see
  :func:`hub_store_from_env`);
- otherwise ``LocalStore`` in ``$LEADERBOARD_DATA_DIR`` (default ``./data`` beside app.py): no token, no network.
  On a Space (``SPACE_ID`` set) the default folder would be lost at every restart, so there the local store
  needs ``LEADERBOARD_DATA_DIR`` named explicitly (``/data``, the Space's persistent storage, or a folder the
  operator accepts to lose); without it :func:`open_store` refuses with :data:`NO_DURABLE_STORE`.

On the Hub, what every finished evaluation and every submission writes (``results``, ``details``, ``private``,
``hidden_scores``) is staged in the same database first (:class:`store.outbox.OutboxStore`: read at once, by
every replica) and reaches its dataset within ``PUBLISH_EVERY_S`` (:mod:`store.publish_log`), one commit per
dataset per interval. ``reveals`` and ``boards`` are written to the Hub directly (rare, transactional writes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from store.base import PRIVATE_COLLECTIONS, LocalStore, Store, StoreError
from store.hub import HubStore
from store.outbox import OutboxStore
from store.routed import RoutedStore
from store.sql import SqlStore

# Collections with a dataset of their own, named ``<RESULTS_DATASET>-<collection>`` unless
# ``<COLLECTION>_DATASET`` says otherwise.
DERIVED_COLLECTIONS = ("details", "votes", "boards")

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
LIVE_DATABASE = "live.sqlite3"  # the default SQLite database, in the data folder
NO_DURABLE_STORE = (
    "This Space has no durable store, so it does not start: set REQUESTS_DATASET and RESULTS_DATASET (with "
    "HF_TOKEN, and PRIVATE_DATASET for contact e-mails) to keep requests and results in Hub datasets, or "
    "LEADERBOARD_DATA_DIR=/data to keep them on the Space's persistent storage (any other folder works too, "
    "but is lost at restart). Without them it would write to ./data, which a Space loses at every restart."
)
NO_QUEUE_DATABASE = (
    "This Space has no durable database for its queue and votes, so it does not start: set DATABASE_URL to a "
    "PostgreSQL URL (postgresql+psycopg://user:password@host:5432/name; needed when several replicas or GPU "
    "workers share the queue), or LEADERBOARD_DATA_DIR=/data to keep an SQLite database on the Space's "
    "persistent storage. Without them the queue would live in ./data, which a Space loses at every restart."
)


def open_store(environ: Mapping[str, str] = os.environ) -> Store:
    """The configured store: the live collections in SQL, the others in the Hub datasets or the local folder.

    :class:`StoreError` on a Space without a durable place for either (``NO_DURABLE_STORE``,
    ``NO_QUEUE_DATABASE``)."""
    data_dir = environ.get("LEADERBOARD_DATA_DIR", "").strip()
    database_url = environ.get("DATABASE_URL", "").strip()
    published: Store | None = hub_store_from_env(environ)
    on_space = bool(environ.get("SPACE_ID"))
    if published is None:
        if not data_dir and on_space:
            raise StoreError(NO_DURABLE_STORE)
        published = LocalStore(data_dir or DEFAULT_DATA_DIR)
    elif on_space and not (database_url or data_dir):
        raise StoreError(NO_QUEUE_DATABASE)
    try:
        live = SqlStore(database_url or f"sqlite:///{Path(data_dir or DEFAULT_DATA_DIR) / LIVE_DATABASE}")
    except ValueError as error:
        raise StoreError(str(error)) from None
    for collection in live.collections:
        if published.serves(collection):
            live.import_once(collection, published)
    routes: dict[str, Store] = {collection: live for collection in live.collections}
    if isinstance(published, HubStore):  # one Hub commit per result or contact would break the hourly quota
        outbox = OutboxStore(live, published)
        routes.update({collection: outbox for collection in outbox.collections})
    return RoutedStore(routes, published)


def hub_store_from_env(environ: Mapping[str, str] = os.environ) -> HubStore | None:
    """The Space's store, configured as Spaces are: through secrets and variables.

    One dataset repo per collection, so that a vote never moves the results' head (no cache invalidated, no
    conflict on unrelated writes) and each repo's hourly commit quota is its own:

    - ``REQUESTS_DATASET``: dataset repo ID (``owner/name``) for submission requests (public);
    - ``RESULTS_DATASET``: dataset repo ID for results and revealed hidden-test scores (public);
    - ``DETAILS_DATASET``, ``VOTES_DATASET``, ``BOARDS_DATASET``: the evaluation details, the arena votes and
      the aggregated boards (public; default ``<RESULTS_DATASET>-details``, ``-votes``, ``-boards``);
    - ``PRIVATE_DATASET``: optional private dataset repo ID for contact details and hidden-test scores; without
      it the ``private`` and ``hidden_scores`` collections are unavailable (no contact e-mail is kept at all);
    - ``HF_TOKEN``: a token with write access to those datasets (a Space secret);
    - ``HF_ENDPOINT``: optional Hub URL (defaults to https://huggingface.co);
    - ``HUB_CACHE_DIR``: where the last good snapshot of each collection is kept for a start while the Hub is
      down (default ``$LEADERBOARD_DATA_DIR/.hub-cache`` when that is set, else
      ``~/.cache/flowertune-leaderboard/hub``).

    Returns None when neither dataset is set (the app then runs on a local folder). Setting only one of the
    two public datasets is a configuration error, reported at start-up rather than at the first write. A
    dataset repo that does not exist is reported at its first use, naming the setting that points at it.
    """
    requests_repo = environ.get("REQUESTS_DATASET", "").strip()
    results_repo = environ.get("RESULTS_DATASET", "").strip()
    if not requests_repo and not results_repo:
        return None
    if not requests_repo or not results_repo:
        missing = "REQUESTS_DATASET" if not requests_repo else "RESULTS_DATASET"
        raise StoreError(
            f"{missing} is not set: the Hub store needs both REQUESTS_DATASET and RESULTS_DATASET"
        )
    settings = {"requests": "REQUESTS_DATASET", "results": "RESULTS_DATASET", "reveals": "RESULTS_DATASET",
                **{collection: f"{collection.upper()}_DATASET" for collection in DERIVED_COLLECTIONS}}
    repos = {"requests": requests_repo, "results": results_repo, "reveals": results_repo}
    for collection in DERIVED_COLLECTIONS:
        repos[collection] = environ.get(settings[collection], "").strip() or f"{results_repo}-{collection}"
    private_repo = environ.get("PRIVATE_DATASET", "").strip()
    if private_repo:
        repos.update({collection: private_repo for collection in PRIVATE_COLLECTIONS})
        settings.update({collection: "PRIVATE_DATASET" for collection in PRIVATE_COLLECTIONS})
    return HubStore(repos, token=environ.get("HF_TOKEN") or None, endpoint=environ.get("HF_ENDPOINT") or None,
                    cache_dir=hub_cache_dir(environ), settings=settings)


def hub_cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("HUB_CACHE_DIR"):
        return Path(environ["HUB_CACHE_DIR"])
    if environ.get("LEADERBOARD_DATA_DIR"):
        return Path(environ["LEADERBOARD_DATA_DIR"]) / ".hub-cache"
    return Path.home() / ".cache" / "flowertune-leaderboard" / "hub"
