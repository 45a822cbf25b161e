"""One entry point for every challenge's suite: the text/choice suites (``evaluator.suites``) and the Code
suite (``evaluator.code_suite``, which executes programs in the sandbox), both returned as a SuiteResult."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from evaluator.suites import ProgressFn, SuiteResult, run_challenge
from leaderboard.challenges import Challenge
from evaluator.scoring import unweighted_average

CODE_MODULES = ("code_suite.py", "code_lm.py", "code_benchmarks.py", "execution.py", "code_runners.py", "sandbox.py")


def is_code_challenge(challenge: Challenge) -> bool:
    return all(c.evaluation.get("suite") == "code" for c in challenge.columns)


def lm_window(challenge: Challenge) -> int | None:
    """The window lm-eval's LM needs: lm-eval requires it to exceed the longest generation a column asks
    for (MBPP: 2048), and it truncates prompts to what is left, so leave as much again for the prompt.
    None: the model's own window (columns without a length)."""
    lengths = [c.evaluation["max_length"] for c in challenge.columns if "max_length" in c.evaluation]
    return 2 * max(lengths) if lengths else None


def code_definition_hash(challenge: Challenge, task_configs: dict[str, str]) -> str:
    here = Path(__file__).parent
    payload = {
        "challenge": challenge.id,
        "columns": [{"key": c.key, "metric": c.metric, "evaluation": c.evaluation} for c in challenge.columns],
        "task_configs": task_configs,
        "sources": {name: hashlib.sha256((here / name).read_bytes()).hexdigest() for name in CODE_MODULES},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run_suite(challenge: Challenge, lm, data_dir: str | Path | None = None, limit: int | None = None,
              on_progress: ProgressFn | None = None) -> SuiteResult:
    if not is_code_challenge(challenge):
        return run_challenge(challenge, lm, data_dir=data_dir, limit=limit, on_progress=on_progress)
    from evaluator.code_suite import run_code_suite

    out = run_code_suite(challenge, lm, data_dir=data_dir, limit=limit, on_progress=on_progress)
    return SuiteResult(
        challenge=challenge.id,
        scores=out["scores"],
        average=unweighted_average(out["scores"][c.key] for c in challenge.columns),
        sample_counts=out["counts"],
        records=out["records"],
        task_hash=code_definition_hash(challenge, out["task_configs"]),
        settings={"sandbox": out["sandbox"]},
    )
