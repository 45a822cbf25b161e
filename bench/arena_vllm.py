"""Arena benchmark of the vLLM backend (``arena/vllm_backend.py``): two-sided answers through
``VllmBackend.stream_pair``, the same call the Compare tab makes.

Against a real server (a GPU host; see README, Arena, for the ``vllm serve`` command):

    .venv/bin/python bench/arena_vllm.py --url http://gpu-host:8000 --base <repo>@<commit> \\
        --adapters <repo>@<commit> <repo>@<commit> [--tokens 128] [--repeats 3]

prints, per prompt and median of ``--repeats``: time until both panes show text, and tokens/s per side (the
answers' tokens counted with the base's tokenizer). Greedy decoding; adapters are loaded before timing.

Without ``--url``: the client's own cost. The stand-in server of the tests (``tests/vllm_server.py``, no delay
between chunks) streams ``--tokens`` chunks per side to the tiny test Llama's tokenizer; the figure is the
time per increment the client spends (HTTP, SSE parsing, the two threads, the in-turn hand-over), the part
of each decoding step vLLM does not do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena.generation import Side
from arena.limits import Limits, Sampling
from arena.vllm_backend import VllmBackend, VllmSettings
from models.loading import ModelRef

PROMPTS = ["What is the capital of Italy?", "How do bees make honey?", "Give me a tip for a job interview."]


def ref(text: str) -> ModelRef:
    repo, _, revision = text.rpartition("@")
    return ModelRef(repo or text, revision or None)


def timed_pair(backend: VllmBackend, a: Side, b: Side, prompt: str, tokens: int) -> dict:
    """One two-sided answer: seconds until both sides have text, total seconds, and each side's text."""
    start, first, texts = time.perf_counter(), {}, {"a": "", "b": ""}
    for side, piece in backend.stream_pair(a, b, prompt, (), Sampling(0.0, tokens), limits=Limits(max_new_tokens=tokens)):
        texts[side] += piece
        first.setdefault(side, time.perf_counter() - start)
    return {"both_panes_s": max(first.values()), "total_s": time.perf_counter() - start, "texts": texts}


def real_server(args) -> None:
    from transformers import AutoTokenizer

    base = ref(args.base)
    backend = VllmBackend(VllmSettings(args.url, base))
    a, b = (Side(base, ref(text)) for text in args.adapters)
    tokenizer = AutoTokenizer.from_pretrained(base.repo, **base.hub_kwargs())
    timed_pair(backend, a, b, "Hello", 4)  # loads both adapters, warms the server
    for prompt in PROMPTS:
        runs = [timed_pair(backend, a, b, prompt, args.tokens) for _ in range(args.repeats)]
        counts = {s: len(tokenizer(runs[-1]["texts"][s], add_special_tokens=False).input_ids) for s in "ab"}
        print(json.dumps({"prompt": prompt, "tokens": counts,
                          "both_panes_ms": round(statistics.median(r["both_panes_s"] for r in runs) * 1000),
                          "tokens_per_s_per_side": round(max(counts.values()) /
                                                         statistics.median(r["total_s"] for r in runs), 1)}))


def client_cost(args) -> None:
    from tests.tiny_models import build_lora, build_tiny_llama
    from tests.vllm_server import VllmStandIn

    with tempfile.TemporaryDirectory() as folder:
        base = build_tiny_llama(Path(folder) / "base")
        adapters = [build_lora(base, Path(folder) / f"lora{i}", seed=i) for i in (1, 2)]
        chunks = {str(path.resolve()): [f"w{i} " for i in range(args.tokens)] for path in adapters}
        with VllmStandIn(str(base), answers=chunks, delay=0.0) as server:
            backend = VllmBackend(VllmSettings(server.url, ModelRef(str(base), "b" * 40)))
            a, b = (Side(ModelRef(str(base), "b" * 40), ModelRef(str(path), f"{i}" * 40))
                    for i, path in enumerate(adapters, start=1))
            timed_pair(backend, a, b, "Hello", args.tokens)  # loads both adapters
            runs = [timed_pair(backend, a, b, prompt, args.tokens) for prompt in PROMPTS for _ in range(args.repeats)]
    per_increment_us = statistics.median(r["total_s"] for r in runs) / (2 * args.tokens) * 1e6
    print(json.dumps({"increments_per_side": args.tokens, "runs": len(runs),
                      "client_us_per_increment": round(per_increment_us),
                      "both_panes_ms": round(statistics.median(r["both_panes_s"] for r in runs) * 1000, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a vLLM server started with --enable-lora (else: the client's own cost)")
    parser.add_argument("--base", help="<repo>@<commit> the server runs")
    parser.add_argument("--adapters", nargs=2, help="two adapters, <repo>@<commit> or local directories")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.url and not (args.base and args.adapters):
        parser.error("--url needs --base and --adapters")
    if args.url:
        real_server(args)
    else:
        client_cost(args)


if __name__ == "__main__":
    main()
