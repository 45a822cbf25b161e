"""Run one lm-eval task the way ``simple_evaluate`` does, minus its per-call environment report.

``simple_evaluate`` ends every call with ``add_env_info`` (torch's ``collect_env``: ``pip list`` and other
subprocesses, about a second), and the worker calls it once per column of every request; the worker
records its own environment once per result instead (evaluator/provenance.py). Everything that decides a
score is kept: the same seeds, zero-shot unless the task says otherwise, the same ``evaluate`` call.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

# simple_evaluate's defaults
RANDOM_SEED, NUMPY_SEED, TORCH_SEED, FEWSHOT_SEED = 0, 1234, 1234, 1234


def run_task(lm, task_manager, task, *, limit: int | None = None, seed: int | None = None,
             unsafe_code: bool = False) -> dict[str, Any]:
    """Evaluate ``task`` (a name known to ``task_manager`` or a task object) with per-sample logs.

    ``seed`` sets every seed at once (the Code suite uses 0, as bigcode-evaluation-harness does); by default
    the seeds are simple_evaluate's.
    """
    from lm_eval.evaluator import evaluate

    random.seed(RANDOM_SEED if seed is None else seed)
    np.random.seed(NUMPY_SEED if seed is None else seed)
    torch.manual_seed(TORCH_SEED if seed is None else seed)
    loaded = task_manager.load([task])
    for task_obj in loaded["tasks"].values():
        if task_obj.get_config("num_fewshot") is None:
            task_obj.set_config(key="num_fewshot", value=0)
        task_obj.set_fewshot_seed(seed=FEWSHOT_SEED if seed is None else seed)
    return evaluate(lm=lm, task_dict=loaded, limit=limit, bootstrap_iters=0, log_samples=True,
                    confirm_run_unsafe_code=unsafe_code)
