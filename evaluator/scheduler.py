"""Run the worker on a schedule (apscheduler), inside the app or alone (``python -m evaluator``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from store.base import Store

DEFAULT_INTERVAL_S = 60.0


ELSEWHERE = ("Evaluations run on GPU workers (`python -m evaluator` with this Space's store settings), not in "
             "this app: a request stays PENDING until a worker claims it.")


def evaluator_enabled(environ: Mapping[str, str] = os.environ, has_gpu: Callable[[], bool] | None = None) -> bool:
    """Whether the app runs the evaluator in process.

    ``EVALUATOR_ENABLED`` decides when set (``0`` for a UI-only replica, ``1`` to force it on). Unset, it is on,
    except on a Space without a GPU (``SPACE_ID`` set, no CUDA): there the first submission would load a base
    model in fp32 on the CPU and take the Space down, so workers run ``python -m evaluator`` elsewhere.
    """
    configured = environ.get("EVALUATOR_ENABLED", "").strip().lower()
    if configured:
        return configured not in ("0", "false", "no", "off")
    if not environ.get("SPACE_ID"):
        return True
    return (has_gpu or _cuda_available)()


def _cuda_available() -> bool:
    import torch  # only asked on a Space without EVALUATOR_ENABLED

    return torch.cuda.is_available()


def start_scheduler(store: Store, environ: Mapping[str, str] = os.environ) -> BackgroundScheduler:
    """Poll the queue every ``EVALUATOR_INTERVAL_S`` seconds (default 60); one evaluation at a time."""
    from evaluator.worker import (  # torch, transformers, lm-eval: only when evaluating
        Worker,
        WorkerConfig,
    )

    worker = Worker(store, config=WorkerConfig.from_env(environ))
    interval = float(environ.get("EVALUATOR_INTERVAL_S") or DEFAULT_INTERVAL_S)
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(worker.run_once, "interval", seconds=interval, id="evaluator", max_instances=1,
                      coalesce=True, next_run_time=datetime.now(timezone.utc))
    scheduler.start()
    return scheduler
