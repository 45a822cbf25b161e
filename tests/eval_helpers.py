"""Shared pieces of the evaluator suite tests: tiny lm-eval LMs (base and base + LoRA) and
fixture rows in the official format of each dataset, written as the local data override."""

from __future__ import annotations

import json
from pathlib import Path


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
