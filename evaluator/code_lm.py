"""lm-eval glue for the Code challenge: one ``generate_until`` task per board column, whose
``process_results`` assembles the test program and executes it in the sandbox.

Task configs are written as YAML into a directory that ``TaskManager(include_path=...,
include_defaults=False)`` indexes; their ``!function`` entries point at the functions below. Generation
follows the official FlowerTune code evaluation (bigcode-evaluation-harness defaults): sampling with
the column's temperature and top_p (0.2, 0.95), top_k disabled, one sample per problem (pass@1, n=1), and a total
length (prompt + completion) of ``max_length`` tokens: lm-eval passes a ``max_length`` generation
kwarg straight to ``generate``, as bigcode does. With batches, the padded prompt length counts; lm-eval
batches prompts of similar length (it sorts by length), and batch size 1 is exactly the official setting.

Each sample's metric item is a verdict record (passed, status, program, stderr tail); the ``pass_at_1``
aggregation turns them into the fraction of problems whose one sample passed, so the records travel in
lm-eval's logged samples next to the prompt and raw output. The stderr tail kept is redacted (it may end
up in a public details record).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evaluator.code_benchmarks import BENCHMARKS, Benchmark, local_file
from evaluator.data import dataset_commit, local_revision
from evaluator.execution import run_program
from evaluator.redaction import redact
from evaluator.sandbox import ERROR, Outcome, SandboxUnavailable

TASK_PREFIX = "flowertune_code_"
STDERR_KEPT = 2000


class SandboxError(SandboxUnavailable):
    """The sandbox could not run a program at all (e.g. node or g++ missing, bwrap failed to set up): the
    evaluation must fail rather than score every problem of the column as wrong, and it is the operator's
    to fix, like a missing sandbox."""


def verdict(program: str, outcome: Outcome) -> dict[str, Any]:
    """The per-sample record for one executed program."""
    if outcome.status == ERROR:
        raise SandboxError(f"the sandbox could not run a program: {outcome.detail}")
    return {
        "passed": outcome.passed,
        "status": outcome.status,
        "detail": outcome.detail,
        "isolated": outcome.isolated,
        "program": program,
        "stderr": redact(outcome.stderr, STDERR_KEPT),
    }


def _processor(bench: Benchmark):
    def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, dict[str, Any]]:
        solution, tests = bench.solution(doc, results[0]), bench.test_code(doc)
        return {"pass@1": verdict(solution + tests, run_program(bench.language, solution, tests))}

    return process_results


def pass_at_1(items: list[dict[str, Any]]) -> float:
    """pass@1 with one sample per problem: the fraction of problems whose sample passed."""
    return sum(bool(item["passed"]) for item in items) / len(items) if items else 0.0


# Named module attributes, referenced from the task YAMLs as ``!function evaluator.code_lm.<name>``.
prompt_humaneval = BENCHMARKS["humaneval"].prompt
prompt_mbpp = BENCHMARKS["mbpp"].prompt
prompt_multiple_js = BENCHMARKS["multiple-js"].prompt
prompt_multiple_cpp = BENCHMARKS["multiple-cpp"].prompt
process_humaneval = _processor(BENCHMARKS["humaneval"])
process_mbpp = _processor(BENCHMARKS["mbpp"])
process_multiple_js = _processor(BENCHMARKS["multiple-js"])
process_multiple_cpp = _processor(BENCHMARKS["multiple-cpp"])


class _Function(str):
    """Dumped as an lm-eval ``!function`` tag."""


class _TaskDumper(yaml.SafeDumper):
    pass


_TaskDumper.add_representer(_Function, lambda d, v: d.represent_scalar("!function", str(v)))
# Stop sequences start with newlines: write them double-quoted ("\n}") rather than folded.
_TaskDumper.add_representer(
    str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"' if "\n" in v else None)
)


def generation_kwargs(bench: Benchmark, evaluation: dict[str, Any]) -> dict[str, Any]:
    """lm-eval generation kwargs of one Code column: sampling with its temperature and top_p, top_k off, a total
    length of ``max_length`` tokens, stopping at the benchmark's stop sequences."""
    max_length = int(evaluation["max_length"])
    return {
        "until": list(bench.stop_sequences),
        "do_sample": True,
        "temperature": float(evaluation["temperature"]),
        "top_p": float(evaluation["top_p"]),
        "top_k": 0,
        "max_gen_toks": max_length,
        "max_length": max_length,
    }


def task_config(column_key: str, evaluation: dict[str, Any], data_dir: str | Path | None = None, *,
                commit: str | None = None) -> dict:
    """The lm-eval task config for one board column (its challenge ``evaluation`` block). The dataset is read
    at a commit sha: ``commit`` when the caller resolved it already, else the benchmark's pin or where its
    moving ref points now; a local override records its file's hash instead (``metadata.dataset_revision``)."""
    bench = BENCHMARKS[evaluation["benchmark"]]
    suffix = bench.key.replace("-", "_")
    if data_dir is None:
        revision = commit or dataset_commit({"dataset": bench.dataset_path, "revision": bench.revision})
        source = {"dataset_path": bench.dataset_path, "dataset_name": bench.dataset_name,
                  "dataset_kwargs": {"revision": revision}}
    else:
        path = local_file(data_dir, bench.key)
        if not path.is_file():
            raise FileNotFoundError(f"local data for {bench.key} is missing: {path}")
        revision = local_revision(path)
        source = {"dataset_path": "json", "dataset_name": None,
                  "dataset_kwargs": {"data_files": {"test": str(path)}}}
    return {
        "task": TASK_PREFIX + column_key,
        **{k: v for k, v in source.items() if v is not None},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": _Function(f"evaluator.code_lm.prompt_{suffix}"),
        "doc_to_target": "",
        "generation_kwargs": generation_kwargs(bench, evaluation),
        "process_results": _Function(f"evaluator.code_lm.process_{suffix}"),
        "metric_list": [{"metric": "pass@1", "aggregation": _Function("evaluator.code_lm.pass_at_1"),
                         "higher_is_better": True}],
        "unsafe_code": True,
        "metadata": {"version": 1.0, "benchmark": bench.key, "dataset_revision": revision},
    }


def write_task(directory: str | Path, config: dict) -> Path:
    """Write one task config as YAML into ``directory`` (an lm-eval include path)."""
    path = Path(directory) / f"{config['task']}.yaml"
    path.write_text(yaml.dump(config, Dumper=_TaskDumper, sort_keys=False), encoding="utf-8")
    return path
