"""The offline samples, timed per FlowerTune challenge: what `bash scripts/run.sh` lets a newcomer do.

    python bench/offline_samples.py [--limit 2] [--challenges general_nlp,finance,medical,code]

Starts the bundled local Hub with its samples (as ``python -m localhub`` does) in this process, then for each
challenge submits its first sample adapter through the submit service (the checks the Submit tab runs, against
the local Hub over HTTP) into a fresh local store, and lets a worker configured as run.sh configures the
in-app one (``EVALUATOR_DATA_DIR`` = the sample data, ``EVALUATOR_LIMIT``) evaluate it. Prints the seconds
from submit to FINISHED per challenge (the in-app worker adds up to ``EVALUATOR_INTERVAL_S`` = 3 s of
queue polling), the result's source and its average. Each challenge gets a fresh worker, so each pays for
loading the base model, as a newcomer's first submission does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=2)
    parser.add_argument("--challenges", default="general_nlp,finance,medical,code")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="offline-samples-"))
    os.environ["HF_HOME"] = str(work / "hf-home")
    os.environ["HUB_CACHE_DIR"] = str(work / "hub-cache")

    from localhub.server import HubServer

    hub = HubServer()
    os.environ["HF_ENDPOINT"] = hub.url  # before huggingface_hub is imported: it reads the endpoint once

    from localhub.sample_data import write_sample_data
    from localhub.samples import BASE_MODEL, adapter_ids, load_samples

    missing = write_sample_data(work / "eval-data")
    if missing:
        print("sample data missing:", missing)
    load_samples(hub, work / "models")

    from evaluator.worker import Worker, WorkerConfig
    from store.base import LocalStore
    from submissions.hub_models import HubModels
    from submissions.rules import SubmissionForm
    from submissions.service import submit

    for challenge in args.challenges.split(","):
        store = LocalStore(work / f"store-{challenge}")
        started = time.monotonic()
        form = SubmissionForm(challenge_id=challenge, repo_id=adapter_ids(challenge)[0], revision="main",
                              team=f"Sample {challenge}", code_url="https://github.com/sample/fl", comm_gb="1",
                              base_model=BASE_MODEL, contact_email="sample@example.org", description="", num_clients="",
                              num_rounds="")
        outcome = submit(store, HubModels(), form)
        assert outcome.status == "queued", outcome.reasons
        queued = time.monotonic() - started
        worker = Worker(store, config=WorkerConfig(data_dir=work / "eval-data", limit=args.limit))
        worker.run_once()
        request = store.get("requests", outcome.request["id"])
        total = time.monotonic() - started
        result = store.get("results", request["result_id"]) if request.get("result_id") else {}
        print(f"{challenge:12s} submit {queued:5.1f} s  submit->{request['state']} {total:6.1f} s  "
              f"source={result.get('source')} average={result.get('average')} "
              f"samples={(result.get('provenance') or {}).get('sample_counts')} "
              f"failure={(request.get('failure') or {}).get('reason')}", flush=True)
    hub.stop()


if __name__ == "__main__":
    main()
