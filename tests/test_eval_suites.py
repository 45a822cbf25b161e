"""Each suite end to end with real lm-eval on the tiny Llama, with and without a LoRA adapter,
on the fixture rows (official formats) under tests/fixtures/evaluator."""

import pytest

from challenges.definitions import challenges
from evaluator import scoring, tasks
from evaluator.suites import run_challenge, supported, task_definition_hash
from tests.eval_helpers import FIXTURES, hflm, tiny_paths

# column -> number of fixture documents it evaluates (FPB/FIQA: 25 % of 12 / 8 rows)
EXPECTED_COUNTS = {
    "general_nlp": {"stem": 2, "social_sciences": 2, "humanities": 2},
    "finance": {"fpb": 3, "fiqa": 2, "tfns": 3},
    "medical": {"pubmedqa": 3, "medmcqa": 3, "medqa": 3, "careqa": 3},
    "merging": {"cosmos_qa": 3, "xsum": 2},
}
RULES = {"general_nlp": "mcq", "finance": "sentiment", "pubmedqa": "yes_no_maybe", "medical": "mcq"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_paths(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def runs(models):
    """Every challenge run once on the base model and once on base + adapter."""
    base, adapter = models
    out = {}
    for label, lm in (("base", hflm(base)), ("adapter", hflm(base, adapter))):
        for challenge_id in EXPECTED_COUNTS:
            progress = []
            result = run_challenge(
                challenges()[challenge_id],
                lm,
                data_dir=FIXTURES,
                on_progress=lambda *a, p=progress: p.append(a),
            )
            out[label, challenge_id] = (result, progress)
    return out


@pytest.mark.parametrize("challenge_id", list(EXPECTED_COUNTS))
def test_suite_shape(runs, challenge_id):
    result, progress = runs["adapter", challenge_id]
    keys = list(EXPECTED_COUNTS[challenge_id])
    assert result.challenge == challenge_id
    assert list(result.scores) == keys
    assert result.sample_counts == EXPECTED_COUNTS[challenge_id]
    assert all(0.0 <= v <= 100.0 for v in result.scores.values())
    assert result.average == pytest.approx(sum(result.scores.values()) / len(keys))
    assert progress == [(i + 1, len(keys), k) for i, k in enumerate(keys)]
    assert result.task_hash == task_definition_hash(challenges()[challenge_id])
    assert list(result.dataset_revisions) == keys  # what each column read: here a fixture file, by its hash
    assert all(r.startswith("local:") and "@sha256:" in r for r in result.dataset_revisions.values())
    for key in keys:
        assert len(result.records[key]) == EXPECTED_COUNTS[challenge_id][key]
        for record in result.records[key]:
            assert {"prompt", "output", "parsed", "gold"} <= set(record)


@pytest.mark.parametrize("challenge_id", ["general_nlp", "finance", "medical"])
def test_lm_eval_accuracy_matches_the_scoring_rules(runs, challenge_id):
    """lm-eval's accuracy equals the rules of evaluator.scoring re-applied to the logged outputs."""
    for label in ("base", "adapter"):
        result, _ = runs[label, challenge_id]
        for key, records in result.records.items():
            rule = RULES.get(key, RULES[challenge_id])
            verdicts = []
            for r in records:
                doc = {"prompt": r["prompt"], "gold": r["gold"]}
                verdicts.append(tasks.verdict(rule, doc, r["output"]))
                assert r["parsed"] == tasks.parse_output(rule, doc, r["output"])
            assert [r["correct"] for r in records] == verdicts
            assert result.scores[key] == pytest.approx(scoring.accuracy_percent(verdicts))


def test_generation_settings_follow_the_protocol(runs, models):
    """Greedy, as many new tokens as the gold has (gold of the first row of each batch of 16);
    finance: the model's defaults, at most 512 tokens in total, prompt included, in the official batches
    (the LM's batch size, 8 here, in dataset order)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models[0])
    for challenge_id in ("general_nlp", "medical"):
        result, _ = runs["adapter", challenge_id]
        for records in result.records.values():
            budget = len(tokenizer(records[0]["gold"], add_special_tokens=False)["input_ids"])
            for r in records:
                assert r["generation"] == {"until": [], "do_sample": False, "max_gen_toks": budget}
    finance, _ = runs["adapter", "finance"]
    for records in finance.records.values():
        for i, r in enumerate(records):
            assert r["prompt"].endswith("Answer: ")
            assert r["generation"] == {"until": [], "max_length": 512, "do_sample": False, "dataset_batch": i // 8}


def test_pubmedqa_budget_is_that_of_the_batch_head(models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models[0])
    golds = ["yes"] * 16 + ["maybe"] + ["no"] * 3
    budgets = tasks.gold_token_budgets([{"gold": g} for g in golds], tokenizer)
    n = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])
    assert budgets == [n("yes")] * 16 + [n("maybe")] * 4


def test_adapter_changes_outputs(runs):
    for challenge_id in EXPECTED_COUNTS:
        base, _ = runs["base", challenge_id]
        adapted, _ = runs["adapter", challenge_id]
        outputs = lambda res: [r["output"] for recs in res.records.values() for r in recs]
        assert outputs(base) != outputs(adapted), challenge_id
        assert base.task_hash == adapted.task_hash


def test_merging_records(runs):
    result, _ = runs["adapter", "merging"]
    for record in result.records["cosmos_qa"]:
        assert len(record["output"]) == 4  # one summed log-likelihood per answer
        assert record["correct"] == (record["parsed"] == record["gold"])
    assert result.scores["cosmos_qa"] == pytest.approx(
        scoring.accuracy_percent([r["correct"] for r in result.records["cosmos_qa"]])
    )
    rouge = [r["rougeL"] for r in result.records["xsum"]]
    assert result.scores["xsum"] == pytest.approx(sum(rouge) / len(rouge))


def test_limit_and_unsupported(models):
    base, _ = models
    result = run_challenge(challenges()["medical"], hflm(base), data_dir=FIXTURES, limit=1)
    assert set(result.sample_counts.values()) == {1}
    assert not supported(challenges()["code"])
    with pytest.raises(ValueError, match="code"):
        run_challenge(challenges()["code"], hflm(base), data_dir=FIXTURES)
