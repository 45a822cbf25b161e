"""How a worker runs (``EVALUATOR_*`` settings) and which of its settings make a result partial."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from challenges.definitions import DTYPES, Challenge
from evaluator.budget import OVERRIDE_ENV as BUDGET_ENV
from evaluator.precision import OVERRIDE_ENV


@dataclass
class WorkerConfig:
    # unique per process start: a restarted worker (same host, maybe the same pid in a container) must not
    # resume, uncounted, a request its dead predecessor held; that one is re-queued once stale, as an attempt
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}")
    data_dir: Path | None = None  # local data override (tests, air-gapped GPU boxes)
    limit: int | None = None  # questions per dataset, for smoke runs
    batch_size: int | None = None  # prompts per generate call; None: the challenge's official batch size
    precision: str | None = None  # a dtype forced instead of the challenge's official precision (quick CPU runs)
    heartbeat_s: float = 30.0
    stale_after_s: float = 600.0
    max_attempts: int = 3
    load_retries: int = 2  # after an out-of-memory error while loading the base or probing the adapter
    merge_budget_s: float | None = None  # merge + evaluation time budget instead of the challenge's gpu_hours_max
    write_retries: int = 3  # when the store refuses the final writes
    write_backoff_s: float = 5.0

    def __post_init__(self):
        if self.precision is not None and self.precision not in DTYPES:
            raise ValueError(f"{OVERRIDE_ENV} must be one of {DTYPES}, not {self.precision!r}")
        if self.merge_budget_s is not None and self.merge_budget_s <= 0:
            raise ValueError(f"{BUDGET_ENV} must be a positive number of seconds, not {self.merge_budget_s}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"the batch size must be at least 1, not {self.batch_size}")

    @classmethod
    def from_env(cls, environ=os.environ) -> "WorkerConfig":
        def number(name: str, default, kind=float):
            return kind(environ[name]) if environ.get(name) else default

        return cls(
            data_dir=Path(environ["EVALUATOR_DATA_DIR"]) if environ.get("EVALUATOR_DATA_DIR") else None,
            limit=number("EVALUATOR_LIMIT", None, int),
            batch_size=number("EVALUATOR_BATCH_SIZE", None, int),
            precision=environ.get(OVERRIDE_ENV) or None,
            heartbeat_s=number("EVALUATOR_HEARTBEAT_S", 30.0),
            stale_after_s=number("EVALUATOR_STALE_AFTER_S", 600.0),
            max_attempts=number("EVALUATOR_MAX_ATTEMPTS", 3, int),
            load_retries=number("EVALUATOR_LOAD_RETRIES", 2, int),
            merge_budget_s=number(BUDGET_ENV, None),
        )


def partial_reasons(config: WorkerConfig, challenge: Challenge, batch_size: int | None = None) -> list[str]:
    """Why this worker's results for ``challenge`` are partial (smoke runs, or not at the official precision or
    batch), not comparable with real evaluations (empty: they are full evaluations). Partial results are stored
    with ``source: "partial"`` and never ranked. ``batch_size``: the one the suite ran with (default: the one it
    starts with)."""
    reasons = []
    if config.precision is not None:
        reasons.append(f"precision override ({OVERRIDE_ENV}={config.precision}): not the official precision "
                       f"({challenge.precision.describe()})")
    official = challenge.precision.batch_size
    used = batch_size or config.batch_size or official
    if used != official:
        reasons.append(f"batch size {used} (EVALUATOR_BATCH_SIZE, or halved after running out of memory): the "
                       f"official script generates {official} prompt(s) per call")
    if config.data_dir is not None:
        reasons.append("local data override (EVALUATOR_DATA_DIR): not the official datasets")
    if config.limit is not None:
        reasons.append(f"at most {config.limit} questions per dataset (EVALUATOR_LIMIT)")
    return reasons
