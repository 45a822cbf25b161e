"""The Code challenge suite: MBPP, HumanEval, MultiPL-E JS and C++ through lm-eval, pass@1 in percent.

``run_code_suite`` takes an lm-eval ``LM`` that is already built (e.g. ``HFLM(pretrained=model,
tokenizer=tokenizer, max_length=...)`` around a loaded base model + adapter; its ``max_length`` must
exceed the longest generation length, 2048 for MBPP), writes one task config per column into a
temporary include path and runs each through lm-eval (:func:`evaluator.lm_run.run_task`). Datasets come from the Hub (official IDs)
unless ``data_dir`` holds local JSONL files in the official row format (see
:func:`evaluator.code_benchmarks.local_file`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lm_eval.tasks import TaskManager

from evaluator.code_benchmarks import BENCHMARKS
from evaluator.code_lm import task_config, write_task
from evaluator.lm_run import run_task
from evaluator.sandbox import require_isolation

SEED = 0  # bigcode-evaluation-harness's default --seed


def run_code_suite(
    challenge,
    lm,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``lm`` on every ``suite: code`` column of ``challenge``.

    Returns ``{"scores": {column: pass@1 %}, "counts": {column: problems}, "records": {column: [...]},
    "task_configs": {task: yaml text}, "revisions": {column: dataset revision read}, "sandbox": {"isolated": bool,
    "how": str}}``; each record holds
    the problem id, prompt, raw output, executed program and verdict. ``on_progress(done, total,
    column)`` is called before each column and once at the end (with ``done == total``).
    Raises :class:`evaluator.sandbox.SandboxUnavailable` when generated code cannot be confined here and
    the operator did not opt in to running it unconfined (``EVALUATOR_UNSAFE_NO_SANDBOX=1``).
    """
    columns = [c for c in challenge.columns if c.evaluation.get("suite") == "code"]
    if not columns:
        raise ValueError(f"challenge {challenge.id!r} has no code columns")
    # No isolation, no execution: SandboxUnavailable (the operator's to fix) before any program runs.
    isolated, how = require_isolation()
    scores, counts, records, texts = {}, {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="code-tasks-") as include:
        configs = [task_config(c.key, c.evaluation, data_dir) for c in columns]
        for config in configs:
            texts[config["task"]] = write_task(include, config).read_text(encoding="utf-8")
        manager = TaskManager(include_path=include, include_defaults=False)
        for done, (column, config) in enumerate(zip(columns, configs)):
            if on_progress:
                on_progress(done, len(columns), column.key)
            task = config["task"]
            output = run_task(lm, manager, task, limit=limit, seed=SEED, unsafe_code=True)
            scores[column.key] = 100.0 * output["results"][task]["pass@1,none"]
            bench = BENCHMARKS[column.evaluation["benchmark"]]
            records[column.key] = [_record(sample, bench.id_field) for sample in output["samples"][task]]
            counts[column.key] = len(records[column.key])
    if on_progress:
        on_progress(len(columns), len(columns), "")
    return {
        "scores": scores,
        "counts": counts,
        "records": records,
        "task_configs": texts,
        "revisions": {c.key: config["metadata"]["dataset_revision"] for c, config in zip(columns, configs)},
        "sandbox": {"isolated": isolated, "how": how},
    }


def _record(sample: dict[str, Any], id_field: str) -> dict[str, Any]:
    verdict = sample["pass@1"]
    return {
        "id": sample["doc"][id_field],
        "prompt": sample["arguments"][0][0],
        "raw_output": sample["resps"][0][0],
        "program": verdict["program"],
        "passed": verdict["passed"],
        "status": verdict["status"],
        "detail": verdict["detail"],
        "stderr": verdict["stderr"],
    }
