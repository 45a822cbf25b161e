"""The evaluation worker: claim a request, score it with the challenge's suite, write one result.

Crash safety: the result id is derived from the request id and written with ``put_missing`` *before* the
request is marked FINISHED, so a worker killed anywhere leaves either no result (the request is re-queued
after its heartbeat goes stale and evaluated again) or exactly one (the next claim finds it and only marks
the request FINISHED). Nothing is ever evaluated into two results.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from evaluator import queue
from evaluator.loading import LoadError, ModelPool, ModelRef, adapter_effect
from evaluator.provenance import environment_facts, peak_memory_mb, reset_peak_memory
from evaluator.suite_runner import lm_window, run_suite
from leaderboard.challenges import Challenge, challenges
from submissions.store import Record, Store

log = logging.getLogger(__name__)


class EvaluationFailed(Exception):
    """A failure with a reason a participant understands."""


def result_id_for(request_id: str) -> str:
    return f"result-{request_id}"


@dataclass
class WorkerConfig:
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    data_dir: Path | None = None  # local data override (tests, air-gapped GPU boxes)
    limit: int | None = None  # questions per dataset, for smoke runs
    batch_size: int = 8
    heartbeat_s: float = 30.0
    stale_after_s: float = 600.0
    max_attempts: int = 3

    @classmethod
    def from_env(cls, environ=os.environ) -> "WorkerConfig":
        def number(name: str, default, kind=float):
            return kind(environ[name]) if environ.get(name) else default

        return cls(
            data_dir=Path(environ["EVALUATOR_DATA_DIR"]) if environ.get("EVALUATOR_DATA_DIR") else None,
            limit=number("EVALUATOR_LIMIT", None, int),
            batch_size=number("EVALUATOR_BATCH_SIZE", 8, int),
            heartbeat_s=number("EVALUATOR_HEARTBEAT_S", 30.0),
            stale_after_s=number("EVALUATOR_STALE_AFTER_S", 600.0),
            max_attempts=number("EVALUATOR_MAX_ATTEMPTS", 3, int),
        )


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Heartbeat(threading.Thread):
    """Beats every ``interval`` seconds and publishes the latest progress; notices a lost claim."""

    def __init__(self, store: Store, claim: queue.Claim, interval: float):
        super().__init__(daemon=True, name=f"heartbeat-{claim.request_id}")
        self.store, self.claim, self.interval = store, claim, interval
        self.progress: dict | None = None
        self.lost = False
        self._halt = threading.Event()
        self._wake = threading.Event()

    def report(self, progress: dict) -> None:
        self.progress = progress
        self._wake.set()

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._halt.is_set():
                break
            try:
                if not queue.heartbeat(self.store, self.claim, _now(), self.progress):
                    self.lost = True
                    return
            except Exception:  # a missed beat is retried at the next one
                log.exception("heartbeat for %s failed", self.claim.request_id)

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()
        self.join(10)


class Worker:
    def __init__(self, store: Store, pool: ModelPool | None = None, config: WorkerConfig | None = None,
                 definitions: dict[str, Challenge] | None = None):
        """``definitions`` defaults to the shipped challenge definitions."""
        self.store = store
        self.definitions = definitions or challenges()
        self.pool = pool or ModelPool()
        self.config = config or WorkerConfig()
        self._busy = threading.Lock()

    def run_once(self) -> str | None:
        """Evaluate the oldest pending request, if any; returns its id. Safe to call from a scheduler."""
        if not self._busy.acquire(blocking=False):  # one evaluation at a time per worker
            return None
        try:
            claimed = queue.claim_next(self.store, self.config.worker_id, _now(),
                                       timedelta(seconds=self.config.stale_after_s), self.config.max_attempts)
            if claimed is None:
                return None
            claim, request = claimed
            self._process(claim, request)
            return claim.request_id
        finally:
            self._busy.release()

    def _process(self, claim: queue.Claim, request: Record) -> None:
        result_id = result_id_for(request["id"])
        if self.store.get("results", result_id) is not None:  # evaluated before a crash: only finish
            queue.mark_finished(self.store, claim, result_id, _now())
            return
        beat = _Heartbeat(self.store, claim, self.config.heartbeat_s)
        beat.start()
        try:
            result, details = self.evaluate(request, beat.report)
            self.store.put("details", details)  # this attempt's samples, even over a killed attempt's
            self.store.put_missing("results", [result])
            queue.mark_finished(self.store, claim, result_id, _now())
        except EvaluationFailed as failure:
            queue.mark_failed(self.store, claim, str(failure), traceback.format_exc()[-2000:], _now())
        except Exception as error:  # noqa: BLE001 - any crash of an evaluation becomes a readable FAILED
            log.exception("evaluation of %s failed", request["id"])
            reason = f"evaluation failed: {type(error).__name__}: {error}"[:500]
            queue.mark_failed(self.store, claim, reason, traceback.format_exc()[-2000:], _now())
        finally:
            beat.stop()

    def evaluate(self, request: Record, report_progress) -> tuple[Record, Record]:
        challenge = self.definitions.get(request["challenge"])
        if challenge is None:
            raise EvaluationFailed(f"this Space has no challenge '{request['challenge']}'")
        base = ModelRef(request["base_model"], request.get("base_commit"))
        adapter = ModelRef(request["repo_id"], request.get("commit"))
        started = time.monotonic()
        reset_peak_memory()
        try:
            if adapter_effect(self.pool, base, adapter) == 0.0:
                raise EvaluationFailed("adapter had no effect: the model's output did not change on a probe prompt "
                                       "(were the LoRA weights trained and saved?)")
            suite = self._run_suite(challenge, base, adapter, report_progress)
        except LoadError as error:
            raise EvaluationFailed(f"the adapter could not be loaded: {error}") from error
        duration = time.monotonic() - started
        result = {
            "id": result_id_for(request["id"]),
            "request_id": request["id"],
            "challenge": challenge.id,
            "source": "evaluated",
            "team": request.get("team"),
            "name": request["repo_id"],
            "model_repo": request["repo_id"],
            "model_commit": request.get("commit"),
            "base_model": request["base_model"],
            "base_commit": request.get("base_commit"),
            "code_url": request.get("code_url") or None,
            "comm_gb": request.get("comm_gb"),
            "scores": suite.scores,
            "average": suite.average,
            "date": _now().date().isoformat(),
            "provenance": {
                **environment_facts(self.pool.options),
                "task_definition_hash": suite.task_hash,
                "dataset_revisions": {c.key: c.evaluation.get("revision") for c in challenge.columns},
                "sample_counts": suite.sample_counts,
                "settings": suite.settings,
                "batch_size": suite.settings.get("batch_size"),
                "limit": self.config.limit,
                "duration_s": round(duration, 1),
                "peak_memory_mb": peak_memory_mb(),
                "worker": self.config.worker_id,
                "rules_version": request.get("rules_version"),
            },
        }
        details = {"id": result["id"], "request_id": request["id"], "samples": suite.records}
        return result, details

    def _run_suite(self, challenge: Challenge, base: ModelRef, adapter: ModelRef, report_progress):
        """Run the suite on base + adapter; on out-of-memory, retry with half the batch size."""
        from lm_eval.models.huggingface import HFLM

        total = len(challenge.columns)
        report_progress({"done": 0, "total": total, "column": challenge.columns[0].label})

        def on_progress(done: int, total: int, key: str) -> None:
            following = challenge.columns[done].label if done < total else None
            report_progress({"done": done, "total": total, "column": following})

        batch_size = self.config.batch_size
        while True:
            try:
                with self.pool.use(base, [adapter]) as lease:
                    lm = HFLM(pretrained=lease.model, tokenizer=lease.tokenizer, batch_size=batch_size,
                              max_length=lm_window(challenge))
                    suite = run_suite(challenge, lm, data_dir=self.config.data_dir, limit=self.config.limit,
                                      on_progress=on_progress)
                suite.settings["batch_size"] = batch_size
                return suite
            except Exception as error:  # noqa: BLE001 - only out-of-memory is retried
                if not _is_out_of_memory(error):
                    raise
                _free_accelerator_memory()
                if batch_size == 1:
                    raise EvaluationFailed("evaluation ran out of GPU memory, even with batch size 1") from error
                batch_size = max(1, batch_size // 2)
                log.warning("out of memory: retrying with batch size %d", batch_size)


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()
