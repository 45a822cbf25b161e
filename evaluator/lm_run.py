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
from lm_eval.models.huggingface import HFLM

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



# A per-document generation setting naming the official batch a prompt belongs to: lm-eval batches only prompts
# with equal generation settings, so each official batch becomes one ``generate`` call; never sent to the model.
DATASET_BATCH = "dataset_batch"


class OfficialHFLM(HFLM):
    """lm-eval's ``HFLM``, making each ``generate`` call as the official scripts do.

    - The token budget is stated as ``max_new_tokens``. lm-eval passes only ``max_length`` (padded prompt +
      budget), and a ``max_new_tokens`` in the model's own ``generation_config`` (e.g. 7) takes precedence
      over it in transformers: such a model generated 7 tokens where the official call generates as many as
      the gold answer has (2). The budget is the number lm-eval computed, so nothing else changes.
    - Prompts that carry a ``dataset_batch`` (:data:`DATASET_BATCH`) are batched with exactly the prompts of
      that batch (the Finance script's batches of 4 in dataset order), instead of lm-eval's length-sorted
      batches: the padded length, and with it the Finance budget (512 tokens, padding included), is then the
      official one.
    """

    def _model_generate(self, context, max_length: int, stop: list[str], **generation_kwargs):
        generation_kwargs.pop(DATASET_BATCH, None)
        generation_kwargs["max_new_tokens"] = max_length - context.shape[1]
        return super()._model_generate(context, max_length, stop, **generation_kwargs)
