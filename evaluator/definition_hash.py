"""The task definition of a challenge as canonical JSON, and its hash (``task_definition_hash`` in results).

Two results with the same hash were scored on the same task: the same data (dataset, config, splits,
revision, subjects, test split size and seed), the same prompts (templates, instructions), the same
scoring rule and the same generation settings. The hash is taken over what these *are*, not over the
source text that computes them: prompts and rules are captured by running the project's own prompt
builders and scoring rules on fixed probes (:mod:`evaluator.task_probes`), so reformatting a module or
editing a comment keeps the hash, and a changed prompt, rule, limit or dataset pin changes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from challenges.definitions import Challenge, ScoreColumn
from evaluator import code_lm, docs, task_probes, tasks
from evaluator.code_benchmarks import BENCHMARKS
from evaluator.execution import MULTIPLE_TIMEOUT_S, PYTHON_TIMEOUT_S


def canonical_hash(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON (sorted keys, no whitespace, unicode kept)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _data(column: ScoreColumn) -> dict[str, Any]:
    """The column's evaluation block without unset fields (``revision: null`` and no revision are the same)."""
    return {key: value for key, value in column.evaluation.items() if value is not None}


def _generation(suite: str) -> dict[str, Any]:
    rule = tasks.SUITE_RULES.get(suite)
    if rule == "sentiment":
        return {**tasks.FINANCE_GENERATION, "sampling": "the model's generation_config"}
    if rule is not None:
        return {**tasks.GREEDY_TO_GOLD,
                "max_gen_toks": f"tokens of the gold of the first document of each batch of {tasks.OFFICIAL_BATCH_SIZE}"}
    if suite == "xsum":
        return dict(tasks.XSUM_GENERATION)
    return {"loglikelihood": "summed over each choice's tokens"}


def _scoring(suite: str, probe_docs: list[dict[str, Any]]) -> Any:
    rule = tasks.SUITE_RULES.get(suite)
    if rule is not None:
        return [[rule, [[tasks.parse_output(rule, doc, out), tasks.verdict(rule, doc, out)]
                        for out in task_probes.OUTPUTS]] for doc in probe_docs]
    if suite == "xsum":
        return [[round(tasks.rouge_l(summary, doc["gold"]), 6) for summary in task_probes.SUMMARIES]
                for doc in probe_docs]
    return "accuracy: the choice with the highest summed log-likelihood"


def column_definition(column: ScoreColumn) -> dict[str, Any]:
    """One text / choice column: its data, its prompts and golds on the probe rows, its rule, its generation."""
    suite = column.evaluation.get("suite", "")
    fmt = column.evaluation.get("format", suite)
    probe_docs = [docs.CONVERTERS[fmt](row) for row in task_probes.ROWS[fmt]]
    return {"key": column.key, "metric": column.metric, "data": _data(column), "prompts": probe_docs,
            "scoring": _scoring(suite, probe_docs), "generation": _generation(suite)}


def code_column_definition(column: ScoreColumn) -> dict[str, Any]:
    """One Code column: its data, the benchmark's prompt, cut and test program on a probe problem, the
    generation settings and the execution time limits."""
    bench = BENCHMARKS[column.evaluation["benchmark"]]
    row = task_probes.CODE_ROWS[bench.key]
    return {
        "key": column.key,
        "metric": column.metric,
        "data": {**_data(column), "dataset": bench.dataset_path, "config": bench.dataset_name,
                 "revision": bench.revision},
        "prompt": bench.prompt(row),
        "programs": [bench.program(row, completion) for completion in task_probes.COMPLETIONS],
        "generation": code_lm.generation_kwargs(bench, column.evaluation),
        "execution": {"language": bench.language, "timeout_s": PYTHON_TIMEOUT_S if bench.language == "python"
                      else MULTIPLE_TIMEOUT_S},
    }


def task_definition(challenge: Challenge) -> dict[str, Any]:
    """What decides a challenge's scores besides the model, as plain JSON data."""
    return {
        "challenge": challenge.id,
        "columns": [code_column_definition(c) if c.evaluation.get("suite") == "code" else column_definition(c)
                    for c in challenge.columns],
        "aggregate": challenge.rank_by,
        "precision": {**asdict(challenge.precision), "source": None},  # how the script loads; not where it says so
    }


def task_definition_hash(challenge: Challenge) -> str:
    """sha256 of :func:`task_definition`: changes with a prompt, rule, generation setting, precision or data pin
    only."""
    return canonical_hash(task_definition(challenge))
