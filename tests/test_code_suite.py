"""The Code suite end to end through lm-eval (generate_until tasks, sandboxed process_results) on a
tiny Llama + LoRA and local fixture data in the official formats."""

from __future__ import annotations

import dataclasses

import pytest
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks._yaml_loader import load_yaml
from peft import PeftModel
from transformers import AutoTokenizer, LlamaForCausalLM

from challenges.definitions import challenges
from evaluator.code_benchmarks import BENCHMARKS
from evaluator.code_lm import task_config, write_task
from evaluator.code_suite import run_code_suite
from evaluator.data import local_revision
from evaluator.sandbox import UNSAFE_ENV, SandboxUnavailable
from tests.code_fixtures import write_data_dir
from tests.tiny_models import build_lora, build_tiny_llama

HUMANEVAL_IDS = ["HumanEval/0", "HumanEval/53"]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    base = build_tiny_llama(root / "base")
    adapter = build_lora(base, root / "lora")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(base), adapter).eval()
    return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=2, max_length=4096, device="cpu")


def test_code_suite_runs_end_to_end_through_lm_eval(tiny_lm, tmp_path):
    challenge = challenges()["code"]
    data_dir = write_data_dir(tmp_path / "data", HUMANEVAL_IDS)
    progress = []
    result = run_code_suite(challenge, tiny_lm, data_dir=data_dir,
                            on_progress=lambda done, total, key: progress.append((done, total, key)))

    keys = list(challenge.score_keys)
    assert list(result["scores"]) == keys
    assert result["counts"] == {"mbpp": 2, "humaneval": 2, "multiple_js": 2, "multiple_cpp": 2}
    for key in keys:
        assert 0.0 <= result["scores"][key] <= 100.0
        records = result["records"][key]
        assert len(records) == result["counts"][key]
        passed = sum(r["passed"] for r in records)
        assert result["scores"][key] == pytest.approx(100.0 * passed / len(records))
        bench = BENCHMARKS[challenge.columns[keys.index(key)].evaluation["benchmark"]]
        for record in records:
            assert record["status"] in {"passed", "failed", "timeout"}
            assert isinstance(record["raw_output"], str)
            # The executed program is the prompt + the raw output cut at a stop sequence + the tests.
            assert record["program"].startswith(record["prompt"] + bench.cut(record["raw_output"], {}) + "\n")
    he = {r["id"]: r for r in result["records"]["humaneval"]}
    assert set(he) == set(HUMANEVAL_IDS)
    assert he["HumanEval/53"]["program"].endswith("check(add)")
    assert result["records"]["multiple_cpp"][0]["prompt"].startswith("#include<assert.h>")
    assert progress == [(0, 4, "mbpp"), (1, 4, "humaneval"), (2, 4, "multiple_js"), (3, 4, "multiple_cpp"),
                        (4, 4, "")]
    assert result["sandbox"]["isolated"] is True
    he_task = result["task_configs"]["flowertune_code_humaneval"]
    assert "max_length: 1024" in he_task and "temperature: 0.2" in he_task and "top_p: 0.95" in he_task
    assert "max_length: 2048" in result["task_configs"]["flowertune_code_mbpp"]


def test_limit_and_missing_local_data(tiny_lm, tmp_path):
    code = challenges()["code"]
    humaneval_only = dataclasses.replace(code, columns=tuple(c for c in code.columns if c.key == "humaneval"))
    data_dir = write_data_dir(tmp_path / "data", HUMANEVAL_IDS)
    result = run_code_suite(humaneval_only, tiny_lm, data_dir=data_dir, limit=1)
    assert result["counts"] == {"humaneval": 1} and len(result["records"]["humaneval"]) == 1
    assert result["revisions"] == {"humaneval": local_revision(data_dir / "humaneval.jsonl")}
    (data_dir / "multiple-cpp.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="multiple-cpp"):
        run_code_suite(code, tiny_lm, data_dir=data_dir)


def test_task_yaml_round_trips_through_lm_evals_loader(tmp_path):
    challenge = challenges()["code"]
    for column in challenge.columns:
        path = write_task(tmp_path, task_config(column.key, column.evaluation, commit="c0ffee" * 6 + "c0ff"))
        loaded = load_yaml(path, resolve_func=True)
        assert loaded["dataset_kwargs"] == {"revision": "c0ffee" * 6 + "c0ff"}  # read at a commit, not a ref
        assert loaded["metadata"]["dataset_revision"] == "c0ffee" * 6 + "c0ff"
        bench = BENCHMARKS[column.evaluation["benchmark"]]
        assert loaded["generation_kwargs"]["until"] == list(bench.stop_sequences)
        assert loaded["generation_kwargs"]["max_length"] == column.evaluation["max_length"]
        assert loaded["doc_to_text"] is bench.prompt
        assert loaded["dataset_path"] == bench.dataset_path


def test_without_a_sandbox_the_code_suite_runs_nothing_and_blames_the_setup(tiny_lm, tmp_path, no_bwrap):
    data_dir = write_data_dir(tmp_path / "data", HUMANEVAL_IDS)
    progress = []
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        run_code_suite(challenges()["code"], tiny_lm, data_dir=data_dir,
                       on_progress=lambda *args: progress.append(args))
    assert progress == []  # not one column (generation or program) was started


def test_the_unsafe_opt_in_runs_the_code_suite_and_records_it(tiny_lm, tmp_path, no_bwrap):
    no_bwrap.setenv(UNSAFE_ENV, "1")
    code = challenges()["code"]
    humaneval_only = dataclasses.replace(code, columns=tuple(c for c in code.columns if c.key == "humaneval"))
    result = run_code_suite(humaneval_only, tiny_lm, data_dir=write_data_dir(tmp_path / "data", HUMANEVAL_IDS),
                            limit=1)
    assert result["counts"] == {"humaneval": 1}
    assert result["sandbox"]["isolated"] is False and result["sandbox"]["how"].startswith("UNSAFE")
