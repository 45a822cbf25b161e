"""``python -m localhub --port 7861 --data data/localhub``: the bundled local Hub with its samples.

Serves a tiny base model and sample LoRA adapters per FlowerTune challenge (built at first start into
``<data>/models``) and writes the sample evaluation data to ``<data>/eval-data`` (point
``EVALUATOR_DATA_DIR`` there). Repos live in memory: what the app commits to it is lost at exit.
``--hub-limits`` makes it refuse what the Hub refuses (``localhub.limits.HUB_LIMITS``, in real time).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from localhub.limits import HUB_LIMITS, Limits
from localhub.sample_data import write_sample_data
from localhub.samples import catalog, load_samples
from localhub.server import HubServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localhub", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7861, help="0 picks a free port")
    parser.add_argument("--data", type=Path, default=Path("data/localhub"), help="folder for the built samples")
    parser.add_argument("--hub-limits", action="store_true",
                        help="enforce the Hub's commit, API and download quotas and page tree listings")
    args = parser.parse_args(argv)
    missing = write_sample_data(args.data / "eval-data")
    for line in missing:
        print(f"localhub: sample data missing: {line}", file=sys.stderr)
    server = HubServer(args.host, args.port, limits=Limits(HUB_LIMITS) if args.hub_limits else None)
    load_samples(server, args.data / "models")
    if args.hub_limits:
        print("localhub: enforcing the Hub's limits (commits per repo per hour, calls per 5 minutes)")
    for challenge, ids in catalog()["adapters"].items():
        print(f"localhub: {challenge}: {', '.join(ids)}")
    print(f"localhub: serving on {server.url}", flush=True)  # last: scripts wait for this line
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop()


if __name__ == "__main__":
    main()
