"""One entry point for every challenge's suite: the text/choice suites (``evaluator.suites``) and the Code
suite (``evaluator.code_suite``, which executes programs in the sandbox), both returned as a SuiteResult."""

from __future__ import annotations

from pathlib import Path

from challenges.definitions import Challenge
from evaluator.definition_hash import task_definition_hash
from evaluator.scoring import unweighted_average
from evaluator.suites import ProgressFn, SuiteResult, run_challenge


def is_code_challenge(challenge: Challenge) -> bool:
    return all(c.evaluation.get("suite") == "code" for c in challenge.columns)


def lm_window(challenge: Challenge) -> int | None:
    """The window lm-eval's LM needs: lm-eval requires it to exceed the longest generation a column asks
    for (MBPP: 2048), and it truncates prompts to what is left, so leave as much again for the prompt.
    None: the model's own window (columns without a length)."""
    lengths = [c.evaluation["max_length"] for c in challenge.columns if "max_length" in c.evaluation]
    return 2 * max(lengths) if lengths else None


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
        task_hash=task_definition_hash(challenge),
        settings={"sandbox": out["sandbox"]},
        dataset_revisions=out["revisions"],
    )
