"""A standalone evaluation worker: ``python -m evaluator`` (one per GPU machine; several may share one queue).

It reads the same store settings as the app (``REQUESTS_DATASET``, ``RESULTS_DATASET``, ``HF_TOKEN`` for the
Hub; else the local folder) and the worker settings ``EVALUATOR_*`` (see ``WorkerConfig.from_env``).
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

from challenges.definitions import DTYPES
from evaluator.worker import Worker, WorkerConfig
from store.factory import open_store
from store.publish_log import start_publishing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="evaluate at most one request, then exit")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between polls of the queue")
    parser.add_argument("--limit", type=int, help="questions per dataset (smoke runs)")
    parser.add_argument("--data-dir", type=Path, help="local data override: a folder of <column>.jsonl files")
    parser.add_argument("--batch-size", type=int, help="prompts per generate call instead of the official number "
                        "(results are then marked partial)")
    parser.add_argument("--precision", choices=DTYPES, help="load models in this dtype instead of the challenge's "
                        "official precision, e.g. for a quick CPU run (results are then marked partial)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = WorkerConfig.from_env()
    overrides = {"limit": args.limit, "data_dir": args.data_dir, "batch_size": args.batch_size,
                 "precision": args.precision}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    store = open_store()
    start_publishing(store)  # the queue's state changes reach the requests dataset even with no app running
    worker = Worker(store, config=config)
    while True:
        done = worker.run_once()
        if done:
            logging.info("evaluated %s", done)
        if args.once:
            return
        if not done:
            time.sleep(args.interval)


if __name__ == "__main__":
    main()
