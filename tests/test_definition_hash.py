"""The task definition hash and the rules version follow what defines a task and its rules, not formatting.

Module edits are made on a copy of the project's packages and hashed in a fresh interpreter, so the hash is
computed from the edited code exactly as a worker would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from challenges.definitions import (
    DEFINITIONS_DIR,
    challenges,
    load_challenges,
    parse_challenge,
)
from evaluator.definition_hash import task_definition, task_definition_hash

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("challenges", "evaluator", "leaderboard", "store", "submissions", "uikit")
HASH_ALL = ("import json; from evaluator.definition_hash import task_definition_hash as h; "
            "from challenges.definitions import challenges as c; "
            "print(json.dumps({i: [h(d), d.version] for i, d in c().items()}))")


def shipped() -> dict[str, list[str]]:
    return {cid: [task_definition_hash(c), c.version] for cid, c in challenges().items()}


def hashes_with_edits(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """Every challenge's [task hash, rules version] computed by a copy of the project whose files are edited:
    ``edits`` maps a path to (text to find, its replacement); an empty text to find appends the replacement."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, (old, new) in edits.items():
        path = tmp_path / relative
        text = path.read_text(encoding="utf-8")
        assert not old or text.count(old) == 1, f"{relative}: {old!r} not found once"
        path.write_text(text.replace(old, new) if old else text + new, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", HASH_ALL], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_comments_and_whitespace_in_the_defining_modules_keep_every_hash(tmp_path):
    comment = "\n\n# a comment added by a reformatting pass\n\n\n"
    edits = {f"evaluator/{name}.py": ("", comment)
             for name in ("prompts", "docs", "scoring", "tasks", "data", "suites", "code_benchmarks", "code_lm",
                          "execution", "definition_hash")}
    docstring = '    """``Question: ...`` + lettered options; ``?`` appended unless the question ends in ? or ."""'
    edits["evaluator/prompts.py"] = (docstring, "    # the docstring became a comment\n")
    edits["evaluator/scoring.py"] = ("def mcq_correct(output: str, gold: str) -> bool:\n",
                                     "def mcq_correct(output: str,\n                gold: str) -> bool:  # same rule\n")
    assert hashes_with_edits(tmp_path, edits) == shipped()


def test_a_prompt_or_scoring_change_changes_the_task_hash_only(tmp_path):
    edits = {
        "evaluator/prompts.py": ('return f"{instruction}\\n{body}\\nThe answer is:\\n"',
                                 'return f"{instruction}\\n{body}\\nThe answer is: \\n"'),
        "evaluator/scoring.py": ('if "positive" in text or "Positive" in text:',
                                 'if "positive" in text.lower():'),
    }
    before, after = shipped(), hashes_with_edits(tmp_path, edits)
    for cid in ("general_nlp", "medical", "finance"):  # the MCQ wrapper and the sentiment mapping
        assert after[cid][0] != before[cid][0], cid
        assert after[cid][1] == before[cid][1], cid  # not a rule of the competition
    assert after["code"] == before["code"] and after["merging"] == before["merging"]


def test_a_generation_setting_changes_the_task_hash(tmp_path):
    edits = {"evaluator/tasks.py": ("FINANCE_MAX_LENGTH = 512", "FINANCE_MAX_LENGTH = 1024")}
    before, after = shipped(), hashes_with_edits(tmp_path, edits)
    assert after["finance"][0] != before["finance"][0] and after["general_nlp"] == before["general_nlp"]


def write_definition(folder: Path, raw: dict, name: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")


def versions_after(tmp_path: Path, name: str, change) -> tuple[tuple[str, str], tuple[str, str]]:
    """(task hash, rules version) of the shipped definition ``name`` as written anew, and after ``change``."""
    raw = yaml.safe_load((DEFINITIONS_DIR / f"{name}.yaml").read_text())
    write_definition(tmp_path / "a", raw, name)
    change(raw)
    write_definition(tmp_path / "b", raw, name)
    first, second = load_challenges(tmp_path / "a")[name], load_challenges(tmp_path / "b")[name]
    return (task_definition_hash(first), first.version), (task_definition_hash(second), second.version)


def test_rewriting_a_definition_in_another_yaml_style_keeps_both():
    """safe_dump writes block style, sorted keys and 13000000000.0 where the file has flow maps and 13.0e9."""
    for name, challenge in challenges().items():
        raw = yaml.safe_load((DEFINITIONS_DIR / f"{name}.yaml").read_text())
        assert yaml.safe_dump(raw) != (DEFINITIONS_DIR / f"{name}.yaml").read_text()
        again = parse_challenge(yaml.safe_load(yaml.safe_dump(raw)))
        assert (task_definition_hash(again), again.version) == (task_definition_hash(challenge), challenge.version)


@pytest.mark.parametrize("change", [
    lambda r: r.update(tagline="A brand new tagline."),
    lambda r: r.update(task="Reworded task text."),
    lambda r: r.update(title="Finance (renamed)", published_url="https://example.org"),
    lambda r: r["board"].update(search_placeholder="e.g. Baseline"),
    lambda r: r["columns"][0].update(label="FPB!", dataset="described differently"),
])
def test_words_and_looks_change_neither(tmp_path, change):
    before, after = versions_after(tmp_path, "finance", change)
    assert after == before


@pytest.mark.parametrize("change", [
    lambda r: r["limits"].update(comm_gb_max=100),
    lambda r: r["limits"]["per_team"].update(count=3),
    lambda r: r["limits"].update(base_params_max=7.0e9),
])
def test_a_limit_changes_the_rules_version_not_the_task(tmp_path, change):
    before, after = versions_after(tmp_path, "finance", change)
    assert after[1] != before[1] and after[0] == before[0]


@pytest.mark.parametrize("change", [
    lambda r: r["columns"][1]["evaluation"].update(revision="0123456789abcdef0123456789abcdef01234567"),
    lambda r: r["columns"][0]["evaluation"].update(test_size=0.2),
    lambda r: r["columns"][2]["evaluation"].update(split="test"),
])
def test_a_dataset_change_changes_both(tmp_path, change):
    before, after = versions_after(tmp_path, "finance", change)
    assert after[0] != before[0] and after[1] != before[1]


@pytest.mark.parametrize("change", [
    lambda r: r["evaluation_precision"].update(dtype="bfloat16"),
    lambda r: r["evaluation_precision"].update(batch_size=8),
    lambda r: r["evaluation_precision"].update(pad_token="eos"),
])
def test_a_precision_change_changes_the_task_hash_only(tmp_path, change):
    """How the model is loaded and batched decides answers (bfloat16 flips near ties), so it is the task's."""
    before, after = versions_after(tmp_path, "finance", change)
    assert after[0] != before[0] and after[1] == before[1]


def test_where_the_precision_was_read_is_not_part_of_the_task(tmp_path):
    before, after = versions_after(tmp_path, "finance",
                                   lambda r: r["evaluation_precision"].update(source="another citation"))
    assert after == before


def test_the_definition_holds_the_rendered_prompts_and_rules():
    """What is hashed is readable data: the MMLU prompt as sent, and the quirks of the MCQ rule."""
    stem = task_definition(challenges()["general_nlp"])["columns"][0]
    assert stem["data"]["dataset"] == "cais/mmlu" and "revision" not in stem["data"]  # null = not pinned
    assert stem["prompts"][0]["prompt"].endswith("Question: Which option comes third?\n\nOptions:\nA. alpha\n"
                                                 "B. beta\nC. gamma\nD. delta\nThe answer is:\n<|im_end|>\n"
                                                 "<|im_start|>answer\n")
    assert stem["generation"]["do_sample"] is False and "16" in stem["generation"]["max_gen_toks"]
    rule, verdicts = stem["scoring"][0]
    assert rule == "mcq" and len(verdicts) == len(stem["scoring"][1][1])
