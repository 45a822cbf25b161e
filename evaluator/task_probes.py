"""Fixed probe inputs the task definition hash runs the project's own prompt builders and scoring rules on.

What a prompt template, an instruction, a label map or a scoring rule *does* to these inputs is hashed
(:mod:`evaluator.definition_hash`), not the source text that does it. The probes cover each rule's branches:
the ``?`` rule, every label of every label map, the ``\\n##`` cut, the first-character cut and its fallback,
the yes/no folds and ``maybe``, the sentiment mapping and a missing ``Answer:``. Changing a probe changes
every hash, so add probes only together with a new rule or format.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

_OPTIONS = ["alpha", "beta", "gamma", "delta"]

# Official row format -> probe rows in that format (see evaluator.docs.CONVERTERS).
ROWS: dict[str, list[Row]] = {
    "mmlu": [
        {"question": "Which option comes third", "subject": "probe", "choices": _OPTIONS, "answer": 2},
        {"question": "Which option comes first?", "subject": "probe", "choices": _OPTIONS, "answer": 0},
        {"question": "Pick the last one.", "subject": "probe", "choices": _OPTIONS, "answer": 3},
    ],
    "medmcqa": [{"question": "Which option comes second", "opa": "a1", "opb": "b2", "opc": "c3", "opd": "d4",
                 "cop": 1}],
    "careqa": [{"question": "Which option comes fourth", "op1": "a1", "op2": "b2", "op3": "c3", "op4": "d4",
                "cop": 4}],
    "medqa": [{"question": "Which option comes third",
               "options": [{"key": k, "value": v} for k, v in zip("ABCD", _OPTIONS)], "answer": "gamma"}],
    "pubmedqa": [
        {"CONTEXTS": ["First context.", "Second context."], "QUESTION": "Is it so?", "final_decision": "maybe"},
        {"CONTEXTS": ["Only context."], "QUESTION": "Is it not", "final_decision": "yes"},
    ],
    "fpb": [{"sentence": f"Sentence {label}.", "label": label} for label in (0, 1, 2)],
    "fiqa": [
        {"sentence": "Shares fell.", "sentiment_score": -0.5, "format": "post"},
        {"sentence": "Shares held.", "sentiment_score": 0.0, "format": "headline"},
        {"sentence": "Shares rose.", "sentiment_score": 0.5, "format": "headline"},
    ],
    "tfns": [{"text": f"Tweet {label}", "label": label} for label in (0, 1, 2)],
    "cosmos_qa": [{"context": "A context.", "question": "Why?", "answer0": "one", "answer1": "two",
                   "answer2": "three", "answer3": "four", "label": 1}],
    "xsum": [{"document": "A long document about a thing.", "summary": "A thing."}],
}

# Raw model outputs every scoring rule is applied to, with each probe document.
OUTPUTS: tuple[str, ...] = (
    "A", " b", "C.", "d)", "E", "f", "answer: c", "The answer is B", "x\n## D\nmore", "", "1",
    "yes", "Yes.", "no", "yesyes", "noyes", "maybe", " maybe", "maybe.",
    "positive", "Negative news", "neutral", "It is Positive", "Answer: negative", "POSITIVE!", "NEGATIVE",
)

# Summaries the ROUGE rule scores against the probe reference.
SUMMARIES: tuple[str, ...] = ("A thing.", "things", "Another long document.", "")

# Code benchmark key -> a probe problem in its dataset's row format, and completions cut and assembled.
CODE_ROWS: dict[str, Row] = {
    "humaneval": {"task_id": "Probe/0", "prompt": "def f(x):\n    \"\"\"Return x.\"\"\"\n",
                  "test": "def check(candidate):\n    assert candidate(1) == 1\n", "entry_point": "f"},
    "mbpp": {"task_id": 0, "text": "Return x.", "test_list": ["assert f(1) == 1", "assert f(2) == 2"]},
    "multiple-js": {"name": "Probe_js", "prompt": "function f(x) {\n", "tests": "console.assert(f(1) === 1);\n",
                    "stop_tokens": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"]},
    "multiple-cpp": {"name": "Probe_cpp", "prompt": "long f(long x) {\n", "tests": "int main() { assert(f(1) == 1); }\n",
                     "stop_tokens": ["\n}"]},
}
COMPLETIONS: tuple[str, ...] = (
    "    return x\n",
    "    return x\nclass A:\n    pass\n",
    "    return x\n\ndef g():\n    pass\n# done\n",
    "  return x;\n}\nfunction g() {}\n// end\nconsole.log(1)\n",
    "    return x\nassert f(3) == 3\n\"\"\"\nprint(1)\nif x:\n```\n<file_sep>",
)
