"""Run the worker on a schedule (apscheduler), inside the app or alone (``python -m evaluator``)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Mapping

from apscheduler.schedulers.background import BackgroundScheduler

from submissions.store import Store

DEFAULT_INTERVAL_S = 60.0


def evaluator_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Off with ``EVALUATOR_ENABLED=0`` (a UI-only replica; workers run elsewhere)."""
    return environ.get("EVALUATOR_ENABLED", "1").strip().lower() not in ("0", "false", "no", "off")


def start_scheduler(store: Store, environ: Mapping[str, str] = os.environ) -> BackgroundScheduler:
    """Poll the queue every ``EVALUATOR_INTERVAL_S`` seconds (default 60); one evaluation at a time."""
    from evaluator.worker import Worker, WorkerConfig  # torch, transformers, lm-eval: only when evaluating

    worker = Worker(store, config=WorkerConfig.from_env(environ))
    interval = float(environ.get("EVALUATOR_INTERVAL_S") or DEFAULT_INTERVAL_S)
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(worker.run_once, "interval", seconds=interval, id="evaluator", max_instances=1,
                      coalesce=True, next_run_time=datetime.now(timezone.utc))
    scheduler.start()
    return scheduler
