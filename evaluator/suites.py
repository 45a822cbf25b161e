"""One entry point per challenge: :func:`run_challenge` turns an lm-eval LM into board scores.

The suite reads everything from the challenge definition (``challenges/*.yaml``):
each column's ``evaluation:`` block names its suite, dataset, split(s), subjects, revision and
format. Columns run one after the other (one lm-eval ``evaluate`` each, see :mod:`evaluator.lm_run`) so progress can be
reported per dataset; ``lm`` is reused throughout, so one loaded base serves many adapters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from challenges.definitions import Challenge, ScoreColumn
from evaluator import data, tasks
from evaluator import docs as docs_mod
from evaluator.definition_hash import task_definition_hash
from evaluator.lm_run import run_task
from evaluator.scoring import unweighted_average

SUITE_RULES = tasks.SUITE_RULES  # suite -> scoring rule (bench/ reads it here)
MERGING_SUITES = ("cosmos_qa", "xsum")

ProgressFn = Callable[[int, int, str], None]


@dataclass
class SuiteResult:
    """Scores in percent per column key, their unweighted average and what produced them."""

    challenge: str
    scores: dict[str, float]
    average: float
    sample_counts: dict[str, int]
    records: dict[str, list[dict[str, Any]]] = field(repr=False)
    task_hash: str
    settings: dict[str, Any] = field(default_factory=dict)
    dataset_revisions: dict[str, str] = field(default_factory=dict)  # column key -> the commit its rows were read at


def supported(challenge: Challenge) -> bool:
    """Whether every column of ``challenge`` has a suite here (Code lives elsewhere)."""
    return all(_suite(c) in SUITE_RULES or _suite(c) in MERGING_SUITES for c in challenge.columns)


def _suite(column: ScoreColumn) -> str:
    return column.evaluation.get("suite", "")


def load_column(column: ScoreColumn, data_dir: Path | None = None,
                limit: int | None = None) -> tuple[list[dict], str]:
    """The documents one column is evaluated on (first ``limit`` of them for smoke runs) and the dataset
    revision they were read at (see :func:`evaluator.data.load_rows`)."""
    loaded = data.load_rows(column.key, column.evaluation, data_dir)
    built = docs_mod.build_docs(column.evaluation, loaded.rows)
    return (built if limit is None else built[:limit]), loaded.revision


def column_docs(column: ScoreColumn, data_dir: Path | None = None, limit: int | None = None) -> list[dict]:
    """The documents one column is evaluated on (first ``limit`` of them for smoke runs)."""
    return load_column(column, data_dir, limit)[0]


def _build_task(challenge: Challenge, column: ScoreColumn, col_docs: list[dict], lm):
    name = f"{challenge.id}_{column.key}"
    suite = _suite(column)
    if suite in SUITE_RULES:
        return tasks.generation_task(name, SUITE_RULES[suite], col_docs, lm)
    if suite == "cosmos_qa":
        return tasks.choice_task(name, col_docs)
    if suite == "xsum":
        return tasks.rouge_task(name, col_docs)
    raise ValueError(f"{challenge.id}/{column.key}: no suite {suite!r} here")


def _record(suite: str, sample: dict[str, Any]) -> dict[str, Any]:
    """What the details store keeps per sample: prompt (as sent), raw output, parsed answer, verdict."""
    doc = sample["doc"]
    prompt = sample["arguments"][0][0]
    if suite == "cosmos_qa":
        lls = [float(resp[0][0]) for resp in sample["resps"]]
        return {
            "prompt": prompt,
            "output": lls,
            "parsed": max(range(len(lls)), key=lls.__getitem__),
            "gold": doc["label"],
            "correct": bool(sample["acc"]),
        }
    output = sample["filtered_resps"][0]
    if suite == "xsum":
        return {
            "prompt": prompt,
            "output": output,
            "parsed": output.strip(),
            "gold": doc["gold"],
            "rougeL": float(sample["rougeL"]),
        }
    rule = SUITE_RULES[suite]
    return {
        "prompt": prompt,
        "generation": sample["arguments"][0][1],
        "output": output,
        "parsed": tasks.parse_output(rule, doc, output),
        "gold": doc["gold"],
        "correct": bool(sample["acc"]),
    }


@functools.cache
def _task_manager():
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False)  # skips indexing lm-eval's built-in tasks


def run_challenge(
    challenge: Challenge,
    lm,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    on_progress: ProgressFn | None = None,
) -> SuiteResult:
    """Evaluate ``lm`` (an lm-eval LM, e.g. ``HFLM(pretrained=<loaded PeftModel>, tokenizer=...)``)
    on every column of ``challenge``; ``data_dir`` replaces the Hub by local JSONL files (see
    :mod:`evaluator.data`); ``limit`` keeps the first documents of each column (smoke runs; for
    MMLU that is the first subject); ``on_progress(done, total, column_key)`` runs after each column."""
    if not supported(challenge):
        raise ValueError(f"challenge {challenge.id!r} has columns without a suite here")
    data_path = Path(data_dir) if data_dir is not None else None
    scores, counts, records, revisions = {}, {}, {}, {}
    for done, column in enumerate(challenge.columns, start=1):
        col_docs, revisions[column.key] = load_column(column, data_path, limit)
        task = _build_task(challenge, column, col_docs, lm)
        out = run_task(lm, _task_manager(), task)
        name = task.config.task
        metric = "rougeL" if _suite(column) == "xsum" else "acc"
        value = float(out["results"][name][f"{metric},none"])
        scores[column.key] = value if metric == "rougeL" else 100.0 * value
        records[column.key] = [
            _record(_suite(column), s) for s in sorted(out["samples"][name], key=lambda s: s["doc_id"])
        ]
        counts[column.key] = len(records[column.key])
        if on_progress is not None:
            on_progress(done, len(challenge.columns), column.key)
    settings = {}
    if any(_suite(c) == "finance_sentiment" for c in challenge.columns):
        settings["finance_generation"] = tasks.model_default_generation(lm.model)
    return SuiteResult(
        challenge=challenge.id,
        scores=scores,
        average=unweighted_average(scores[c.key] for c in challenge.columns),
        sample_counts=counts,
        records=records,
        task_hash=task_definition_hash(challenge),
        settings=settings,
        dataset_revisions=revisions,
    )
