"""The evaluation worker: claim a request, score it with the challenge's suite, write one result.

Crash safety: the result id is derived from the request id and written with ``put_missing`` *before* the
request is marked FINISHED, so a worker killed anywhere leaves either no result (the request is re-queued
after its heartbeat goes stale and evaluated again) or exactly one (the next claim finds it and only marks
the request FINISHED). Nothing is ever evaluated into two results.

A worker writes only while it holds the claim: a lost claim (see :mod:`evaluator.claim_watch`) stops the
evaluation at the next model call or between datasets, and the final writes start only after a beat confirmed
the claim (a newer attempt can take over only once that beat is ``stale_after`` old). Details carry their
attempt, and a write never replaces the details of a newer attempt. When the store refuses the final writes,
they are retried; if it stays unreachable the request is left RUNNING under this worker, which resumes it at
its next poll (or another worker re-queues it once stale): a finished evaluation is never reported FAILED
because of the store.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from challenges.definitions import Challenge, challenges
from evaluator import hidden_test, merged_models, queue
from evaluator.budget import merge_budget
from evaluator.claim_watch import ClaimLost, ClaimWatch
from evaluator.failures import EVALUATOR, SUBMISSION, EvaluationFailed, classify
from evaluator.merged_models import MERGE_KINDS
from evaluator.precision import PrecisionUnavailable, load_options
from evaluator.provenance import environment_facts, peak_memory_mb, reset_peak_memory
from evaluator.suite_runner import lm_window, run_suite
from evaluator.suites import SuiteResult
from evaluator.worker_config import WorkerConfig, partial_reasons
from models.loading import (
    LoadError,
    LoadOptions,
    ModelPool,
    ModelRef,
    adapter_effect,
)
from store import details_files
from store.base import Record, Store, StoreError

log = logging.getLogger(__name__)
__all__ = ["EvaluationFailed", "Worker", "WorkerConfig", "partial_reasons", "result_id_for"]


# Request fields a result carries on: the published row an organiser's re-check re-evaluates, and the
# communication cost check made at submission.
LINKED_FIELDS = ("rechecks", "comm_check")


def result_id_for(request_id: str) -> str:
    return f"result-{request_id}"


@dataclass
class Scored:
    """What one evaluation produced before it becomes a result: the validation suite, the result's fields that
    name the entry, the hidden test's suite (merging, when configured) and extra provenance."""

    suite: SuiteResult
    entry: dict
    hidden: SuiteResult | None = None
    provenance: dict = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def write_details(store: Store, details: Record) -> bool:
    """Write ``details`` (id, request_id, attempt, worker, samples per column) as the result's Parquet details file
    unless a newer attempt's details are stored; returns whether it wrote."""
    return details_files.write_details(store, details["id"], details["attempt"], details.get("worker"),
                                       details["samples"], request_id=details.get("request_id"))


class Worker:
    def __init__(self, store: Store, pool: ModelPool | None = None, config: WorkerConfig | None = None,
                 definitions: dict[str, Challenge] | None = None, clock: Callable[[], datetime] = _now):
        """``definitions`` defaults to the shipped challenge definitions; ``clock`` gives the current UTC time."""
        self.store = store
        self.definitions = definitions or challenges()
        self.pool = pool or ModelPool()
        self.config = config or WorkerConfig()
        self.clock = clock
        self._busy = threading.Lock()

    def run_once(self) -> str | None:
        """Evaluate the oldest pending request, if any; returns its id. Safe to call from a scheduler."""
        if not self._busy.acquire(blocking=False):  # one evaluation at a time per worker
            return None
        try:
            try:
                claimed = queue.claim_next(self.store, self.config.worker_id, self.clock(),
                                           timedelta(seconds=self.config.stale_after_s), self.config.max_attempts)
            except StoreError as error:  # the store is unreachable: nothing was claimed, poll again later
                log.warning("could not claim a request: %s", error)
                return None
            if claimed is None:
                return None
            claim, request = claimed
            self._process(claim, request)
            return claim.request_id
        finally:
            self._busy.release()

    def _process(self, claim: queue.Claim, request: Record) -> None:
        try:
            if self.store.get("results", result_id_for(request["id"])) is not None:  # evaluated before a crash
                queue.mark_finished(self.store, claim, result_id_for(request["id"]), self.clock())
                return
            with ClaimWatch(self.store, claim, self.clock, self.config.heartbeat_s) as watch:
                try:
                    result, details, hidden = self.evaluate(request, watch.report, watch.check)
                except ClaimLost:
                    raise
                except Exception as error:  # noqa: BLE001 - any failure of an evaluation becomes a readable FAILED
                    log.exception("evaluation of %s failed", request["id"])
                    reason, cause = classify(error)
                    log_text = traceback.format_exc()
                    self._with_retries(lambda: queue.mark_failed(self.store, claim, reason, log_text, self.clock(),
                                                                 cause))
                    return
                self._with_retries(watch.confirm)  # from here a newer attempt is at least stale_after away
                details = {**details, "attempt": claim.attempt, "worker": claim.worker}
                self._with_retries(lambda: self._publish(claim, watch, result, details, hidden))
        except ClaimLost as lost:
            log.warning("%s; nothing written", lost)
        except StoreError as error:
            log.warning("%s stays RUNNING: the store refused a write (%s); resumed at the next poll", claim.request_id,
                        error)

    def _publish(self, claim: queue.Claim, watch: ClaimWatch, result: Record, details: Record,
                 hidden: Record | None = None) -> None:
        """Details (this attempt's samples), the hidden-test scores (private store), then the write-once result,
        then FINISHED. Idempotent."""
        watch.check()
        write_details(self.store, details)
        if hidden is not None:
            watch.check()
            self.store.put_missing(hidden_test.COLLECTION, [hidden])
        watch.check()
        self.store.put_missing("results", [result])
        watch.stop_beating()  # retried on a refused write: within write_retries' backoff, far below stale_after
        if not queue.mark_finished(self.store, claim, result["id"], self.clock()):
            raise ClaimLost(f"{claim.request_id}: claim lost before it was marked FINISHED")

    def _with_retries(self, step: Callable[[], object]) -> None:
        """Run a store step, again after a backoff while the store raises :class:`StoreError`."""
        for retry in range(self.config.write_retries + 1):
            try:
                step()
                return
            except StoreError:
                if retry == self.config.write_retries:
                    raise
                time.sleep(self.config.write_backoff_s * 2**retry)

    def evaluate(self, request: Record, report_progress: Callable[[dict], None],
                 check: Callable[[], None] = lambda: None) -> tuple[Record, Record, Record | None]:
        """Score ``request``; ``check`` is called before every model call and may raise to stop the run.

        Returns the result, its details and the hidden-test record (merging track, None without a hidden
        test), which goes to the private store only."""
        challenge = self.definitions.get(request["challenge"])
        if challenge is None:
            raise EvaluationFailed(f"this Space has no challenge '{request['challenge']}'")
        options = self._load_options(challenge)
        started = time.monotonic()
        reset_peak_memory()
        if request.get("kind") in MERGE_KINDS:
            scored = self._evaluate_merge(challenge, request, options, report_progress, check)
        else:
            scored = self._evaluate_adapter(challenge, request, options, report_progress, check)
        suite = scored.suite
        duration = time.monotonic() - started
        partial = partial_reasons(self.config, challenge, suite.settings["batch_size"])
        result = {
            "id": result_id_for(request["id"]),
            "request_id": request["id"],
            "challenge": challenge.id,
            "source": "partial" if partial else "evaluated",
            "team": request.get("team"),
            **scored.entry,
            **{key: request[key] for key in LINKED_FIELDS if request.get(key) is not None},
            "scores": suite.scores,
            "average": suite.average,
            "date": self.clock().date().isoformat(),
            "provenance": {
                **environment_facts(options),
                "precision_official": self.config.precision is None,
                "task_definition_hash": suite.task_hash,
                "dataset_revisions": suite.dataset_revisions,
                "sample_counts": suite.sample_counts,
                "settings": suite.settings,
                "batch_size": suite.settings.get("batch_size"),
                "limit": self.config.limit,
                "partial": partial or None,
                "duration_s": round(duration, 1),
                "peak_memory_mb": peak_memory_mb(),
                "worker": self.config.worker_id,
                "rules_version": request.get("rules_version"),
                **scored.provenance,
            },
        }
        details = {"id": result["id"], "request_id": request["id"], "samples": suite.records}
        hidden = hidden_test.hidden_record(result, scored.hidden, self.clock()) if scored.hidden else None
        return result, details, hidden

    def _evaluate_adapter(self, challenge: Challenge, request: Record, options: LoadOptions, report_progress,
                          check) -> Scored:
        base = ModelRef(request["base_model"], request.get("base_commit"))
        adapter = ModelRef(request["repo_id"], request.get("commit"))
        if self._load_and_probe(base, adapter, options) == 0.0:
            raise EvaluationFailed("adapter had no effect: the model's output did not change on a probe prompt "
                                   "(were the LoRA weights trained and saved?)")
        check()
        try:
            suite = self._run_suite(challenge, base, adapter, options, report_progress, check)
        except LoadError as error:
            raise EvaluationFailed(f"the adapter could not be loaded: {error}") from error
        entry = {"name": request["repo_id"], "model_repo": request["repo_id"], "model_commit": request.get("commit"),
                 "base_model": request["base_model"], "base_commit": request.get("base_commit"),
                 "code_url": request.get("code_url") or None, "comm_gb": request.get("comm_gb")}
        return Scored(suite, entry)

    def _evaluate_merge(self, challenge: Challenge, request: Record, options: LoadOptions, report_progress,
                        check) -> Scored:
        """A merged model (submitted, or merged here from the recipe) on the validation suite, then on the hidden
        test, all within the challenge's time budget."""
        budget = merge_budget(challenge, self.config.merge_budget_s)
        hidden_test.check_ready(challenge, self.store)
        hidden_at = hidden_test.location(challenge)

        def within_limits() -> None:
            check()
            budget.check()

        work = Path(tempfile.mkdtemp(prefix="merging-"))
        try:
            hidden_data = hidden_test.data_folder(hidden_at, work) if hidden_at else None  # before any merge
            prepared = merged_models.prepare(request, work, within_limits)
            merged = ModelRef(str(prepared.path))
            try:
                suite = self._run_suite(challenge, merged, None, options, report_progress, within_limits)
                hidden = (self._hidden_suite(challenge, merged, options, within_limits, hidden_data)
                          if hidden_data else None)
            except LoadError as error:
                raise EvaluationFailed(f"the merged model could not be loaded: {error}") from error
            finally:
                self.pool.release_idle()  # loaded from a temporary folder: never used again
        finally:
            shutil.rmtree(work, ignore_errors=True)
        commit = request.get("commit") if request["kind"] == "merged_model" else None
        entry = {"name": request["repo_id"], "model_repo": request["repo_id"] if commit else None,
                 "model_commit": commit, "base_model": None, "base_commit": None,
                 "code_url": request.get("code_url") or None, "params_total": request.get("params_total"),
                 "merge": prepared.merge}
        return Scored(suite, entry, hidden, {"merge_budget_s": budget.seconds})

    def _hidden_suite(self, challenge: Challenge, merged: ModelRef, options: LoadOptions, check,
                      data_dir: Path) -> SuiteResult:
        """The hidden test on the model just evaluated: no progress published, no error text kept."""
        try:
            return self._run_suite(hidden_test.scored_as_challenge(challenge), merged, None, options,
                                   lambda _progress: check(), check, data_dir=data_dir)
        except (EvaluationFailed, ClaimLost):
            raise
        except Exception:  # noqa: BLE001 - the text could quote hidden rows or name their location
            log.exception("the hidden test failed")
            raise hidden_test.HiddenTestUnavailable("the hidden test could not be run on this worker") from None

    def _load_options(self, challenge: Challenge) -> LoadOptions:
        """The challenge's official precision (or the operator's override); a worker that cannot load it fails
        the request, caused by the evaluator, rather than score at another precision."""
        try:
            return load_options(challenge.precision, override=self.config.precision)
        except PrecisionUnavailable as error:
            raise EvaluationFailed(f"{error}. This does not count against your submission limit.",
                                   EVALUATOR) from error

    def _load_and_probe(self, base: ModelRef, adapter: ModelRef, options: LoadOptions) -> float:
        """Load the base, attach the adapter and return its effect on a probe prompt.

        Out of memory frees every idle model and retries, ``load_retries`` times, as the suite retries with a
        smaller batch. Then: a base model that does not fit is ours (cause "evaluator"); an adapter that does
        not fit beside a base that does is the submission's."""
        for retry in range(self.config.load_retries + 1):
            stage = "base"
            try:
                with self.pool.use(base, options=options):
                    pass
                stage = "adapter"
                return adapter_effect(self.pool, base, adapter, options=options)
            except LoadError as error:
                if not _is_out_of_memory(error):
                    if stage == "base":
                        raise EvaluationFailed(f"the base model {base} could not be loaded on this worker: {error}. "
                                               "This does not count against your submission limit.", EVALUATOR) from error
                    raise EvaluationFailed(f"the adapter could not be loaded: {error}", SUBMISSION) from error
                oom = error
            except Exception as error:  # noqa: BLE001 - only out-of-memory is retried
                if not _is_out_of_memory(error):
                    raise
                oom = error
            log.warning("out of memory while loading the %s (try %d): freeing memory and retrying", stage, retry + 1)
            self.pool.release_idle()
            _free_accelerator_memory()
        if stage == "base":
            raise EvaluationFailed(f"the base model {base} does not fit in this worker's memory. This does not count "
                                   "against your submission limit; the operator needs a larger machine.",
                                   EVALUATOR) from oom
        raise EvaluationFailed(f"the adapter {adapter} does not fit in memory beside its base model, which does",
                               SUBMISSION) from oom

    def _run_suite(self, challenge: Challenge, base: ModelRef, adapter: ModelRef | None, options: LoadOptions,
                   report_progress, check, data_dir: Path | None = None) -> SuiteResult:
        """Run the suite on base + adapter (or the full model ``base``), on ``data_dir`` (default: the worker's
        data override); on out-of-memory, retry with half the batch size."""
        from evaluator.lm_run import OfficialHFLM

        total = len(challenge.columns)
        report_progress({"done": 0, "total": total, "column": challenge.columns[0].label})

        def on_progress(done: int, total: int, key: str) -> None:
            following = challenge.columns[done].label if done < total else None
            report_progress({"done": done, "total": total, "column": following})

        batch_size = self.config.batch_size or challenge.precision.batch_size
        while True:
            try:
                with self.pool.use(base, [adapter], options=options) as lease:
                    hook = lease.model.get_input_embeddings().register_forward_pre_hook(lambda *_: check())
                    try:
                        lm = OfficialHFLM(pretrained=lease.model, tokenizer=lease.tokenizer,
                                          batch_size=batch_size, max_length=lm_window(challenge))
                        suite = run_suite(challenge, lm, data_dir=data_dir or self.config.data_dir,
                                          limit=self.config.limit,
                                          on_progress=on_progress)
                    finally:
                        hook.remove()
                suite.settings["batch_size"] = batch_size
                return suite
            except Exception as error:  # noqa: BLE001 - only out-of-memory is retried
                if not _is_out_of_memory(error):
                    raise
                _free_accelerator_memory()
                if batch_size == 1:
                    raise EvaluationFailed("evaluation ran out of GPU memory, even with batch size 1. This does not "
                                           "count against your submission limit.", EVALUATOR) from error
                batch_size = max(1, batch_size // 2)
                log.warning("out of memory: retrying with batch size %d", batch_size)


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _is_out_of_memory(error: BaseException | None) -> bool:
    """Whether ``error`` or an error it wraps (a LoadError around a load) is an out-of-memory error."""
    import torch

    while error is not None:
        if isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower():
            return True
        error = error.__cause__
    return False
