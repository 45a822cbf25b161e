"""Pick the store from the environment, as a Space configures it.

- ``REQUESTS_DATASET`` + ``RESULTS_DATASET`` (+ ``PRIVATE_DATASET``, ``HF_TOKEN``): ``HubStore`` on those
  dataset repos (see :func:`submissions.hub_store.hub_store_from_env`);
- otherwise ``LocalStore`` in ``$LEADERBOARD_DATA_DIR`` (default ``./data`` beside app.py): no token, no network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from submissions.hub_store import hub_store_from_env
from submissions.store import LocalStore, Store

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def open_store(environ: Mapping[str, str] = os.environ) -> Store:
    return hub_store_from_env(environ) or LocalStore(environ.get("LEADERBOARD_DATA_DIR") or DEFAULT_DATA_DIR)
