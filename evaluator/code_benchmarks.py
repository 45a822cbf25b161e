"""The four Code-challenge benchmarks as bigcode-evaluation-harness defines them (the harness the official
FlowerTune code evaluation runs): dataset, prompt, stop sequences, how a completion is cut and how the
test program is assembled.

* ``humaneval``: prompt = the problem's ``prompt`` stripped; program = prompt + completion + ``\\n`` +
  ``test`` + ``\\ncheck(<entry_point>)``.
* ``mbpp`` (InCoder-style prompt): ``\"\"\"\\n{text}\\n{test_list[0]}\\n\"\"\"\\n``; program = prompt +
  completion + ``\\n`` + the ``test_list`` asserts joined by newlines (``test_setup_code`` is not used).
* ``multiple-js`` / ``multiple-cpp`` (MultiPL-E ``humaneval-<lang>``): prompt stripped; stop at the
  dataset's ``stop_tokens`` (the same for every row of a language; repeated below so lm-eval can stop
  generation early); program = prompt + completion + ``\\n`` + ``tests``.

A completion is cut at the earliest stop sequence (bigcode's ``_stop_at_stop_token``), always applied to
the generated text only, never to the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# MultiPL-E revision pinned by bigcode-evaluation-harness's multiple.py (the v3 prompts, which load
# without remote code; the earlier pin needed a loading script that current `datasets` refuses).
MULTIPLE_REVISION = "d23b094346c5dbda1080a74bb2a24c18adbf7409"
# Appended to HumanEval's stop words by the harness (StarCoder2's file separator).
FILE_SEP = "<file_sep>"


def _humaneval_prompt(doc: dict[str, Any]) -> str:
    return doc["prompt"].strip()


def _humaneval_tests(doc: dict[str, Any]) -> str:
    return "\n" + doc["test"] + "\n" + f"check({doc['entry_point']})"


def _mbpp_prompt(doc: dict[str, Any]) -> str:
    return f'"""\n{doc["text"]}\n{doc["test_list"][0]}\n"""\n'


def _mbpp_tests(doc: dict[str, Any]) -> str:
    return "\n".join(doc["test_list"])


def _multiple_tests(doc: dict[str, Any]) -> str:
    return doc["tests"]


@dataclass(frozen=True)
class Benchmark:
    key: str  # the `benchmark` named in a challenge column's evaluation block
    language: str  # python | js | cpp (see evaluator.execution)
    dataset_path: str
    dataset_name: str | None
    revision: str | None
    stop_sequences: tuple[str, ...]
    prompt: Callable[[dict[str, Any]], str]
    tests: Callable[[dict[str, Any]], str]
    id_field: str

    def stops_for(self, doc: dict[str, Any]) -> tuple[str, ...]:
        """The stop sequences for one problem: MultiPL-E rows carry their own (the same for a language)."""
        return tuple(dict.fromkeys(self.stop_sequences + tuple(doc.get("stop_tokens") or ())))

    def cut(self, completion: str, doc: dict[str, Any]) -> str:
        """The completion up to (excluding) the earliest stop sequence."""
        end = len(completion)
        for stop in self.stops_for(doc):
            found = completion.find(stop)
            if found != -1:
                end = min(end, found)
        return completion[:end]

    def solution(self, doc: dict[str, Any], completion: str) -> str:
        """The generated part of the program: the prompt and the completion cut at its stop sequence."""
        return self.prompt(doc) + self.cut(completion, doc)

    def test_code(self, doc: dict[str, Any]) -> str:
        """The part of the program that checks the solution (run after it, see evaluator.execution)."""
        return "\n" + self.tests(doc)

    def program(self, doc: dict[str, Any], completion: str) -> str:
        """The complete program executed for one generated completion (text after the prompt)."""
        return self.solution(doc, completion) + self.test_code(doc)


BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        Benchmark(
            key="humaneval",
            language="python",
            dataset_path="openai/openai_humaneval",
            dataset_name=None,
            revision=None,
            stop_sequences=("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", FILE_SEP),
            prompt=_humaneval_prompt,
            tests=_humaneval_tests,
            id_field="task_id",
        ),
        Benchmark(
            key="mbpp",
            language="python",
            dataset_path="google-research-datasets/mbpp",
            dataset_name="full",
            revision=None,
            stop_sequences=("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```"),
            prompt=_mbpp_prompt,
            tests=_mbpp_tests,
            id_field="task_id",
        ),
        Benchmark(
            key="multiple-js",
            language="js",
            dataset_path="nuprl/MultiPL-E",
            dataset_name="humaneval-js",
            revision=MULTIPLE_REVISION,
            stop_sequences=("\nfunction ", "\n/*", "\n//", "\nconsole.log"),
            prompt=_humaneval_prompt,
            tests=_multiple_tests,
            id_field="name",
        ),
        Benchmark(
            key="multiple-cpp",
            language="cpp",
            dataset_path="nuprl/MultiPL-E",
            dataset_name="humaneval-cpp",
            revision=MULTIPLE_REVISION,
            stop_sequences=("\n}",),
            prompt=_humaneval_prompt,
            tests=_multiple_tests,
            id_field="name",
        ),
    )
}


def local_file(data_dir: str | Path, key: str) -> Path:
    """Where a local override keeps a benchmark: ``<data_dir>/<benchmark>.jsonl``, rows in the official
    dataset's format (e.g. ``multiple-cpp.jsonl`` with MultiPL-E's name/prompt/tests/stop_tokens)."""
    return Path(data_dir).resolve() / f"{key}.jsonl"
