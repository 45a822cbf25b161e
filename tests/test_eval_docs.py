"""Prompts, labels, answer keys and splits of every FlowerTune dataset, checked by hand."""

import pytest

from challenges.definitions import challenges
from evaluator import docs, prompts
from evaluator.suites import column_docs
from tests.eval_helpers import FIXTURES

WRAP = "<|im_start|>question\n{}<|im_end|>\n<|im_start|>answer\n"
FINANCE = (
    "Instruction: What is the sentiment of this {}? Please choose an answer from "
    "{{negative/neutral/positive}}.\nInput: {}\nAnswer: "
)


def column(challenge_id, key):
    return next(c for c in challenges()[challenge_id].columns if c.key == key)


def test_question_mark_rule():
    assert prompts.format_mcq("Why", ["x", "y"]) == "Question: Why?\n\nOptions:\nA. x\nB. y"
    assert prompts.format_mcq("Why?", ["x"]).startswith("Question: Why?\n")
    assert prompts.format_mcq("Pick one.", ["x"]).startswith("Question: Pick one.\n")
    assert prompts.format_mcq("Pick one:", ["x"]).startswith("Question: Pick one:?\n")


def test_mmlu_columns_read_their_subjects_in_definition_order():
    stem = column_docs(column("general_nlp", "stem"), FIXTURES)
    assert [d["gold"] for d in stem] == ["B", "A"]
    assert stem[0]["prompt"] == WRAP.format(
        "Answer the following multiple choice question.\nQuestion: What is 2 + 2?\n\nOptions:\n"
        "A. 3\nB. 4\nC. 5\nD. 6\nThe answer is:\n"
    )
    humanities = column_docs(column("general_nlp", "humanities"), FIXTURES)
    assert len(humanities) == 2  # formal_logic then philosophy; the virology row belongs to no column
    assert "Modus ponens" in humanities[0]["prompt"] and "Plato" in humanities[1]["prompt"]
    assert {d["rule"] for d in stem + humanities} == {"mcq"}


def test_fpb_split_and_labels():
    rows = [{"sentence": f"s{i}", "label": i % 3} for i in range(12)]
    kept = docs.official_test_split(rows, 0.25, 42)
    # datasets' train_test_split(test_size=0.25, seed=42) keeps the first 3 indices of
    # numpy.random.default_rng(42).permutation(12), in that order: 0, 7, 6
    assert [r["sentence"] for r in kept] == ["s0", "s7", "s6"]
    fpb = column_docs(column("finance", "fpb"), FIXTURES)
    assert len(fpb) == 3
    by_sentence = {
        FINANCE.format("news", "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn."): "positive",
        FINANCE.format("news", "The deal is expected to close in March."): "neutral",
        FINANCE.format("news", "Profit before taxes decreased to EUR 1.2 mn."): "negative",
    }
    assert {d["prompt"]: d["gold"] for d in fpb} == by_sentence


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (-0.62, "negative"),
        (-0.1000001, "negative"),
        (-0.1, "neutral"),
        (0.0999, "neutral"),
        (0.1, "positive"),
    ],
)
def test_fiqa_thresholds(score, label):
    assert docs.fiqa_label(score) == label


def test_fiqa_kind_from_format():
    post = docs.fiqa_doc({"sentence": "$X up", "sentiment_score": 0.3, "format": "post"})
    headline = docs.fiqa_doc({"sentence": "X up", "sentiment_score": -0.3, "format": "headline"})
    assert post == {"prompt": FINANCE.format("tweet", "$X up"), "gold": "positive", "rule": "sentiment"}
    assert headline["prompt"] == FINANCE.format("news", "X up") and headline["gold"] == "negative"
    assert len(column_docs(column("finance", "fiqa"), FIXTURES)) == 2  # 25 % of 8 rows


def test_tfns_labels_and_tweet_instruction():
    tfns = column_docs(column("finance", "tfns"), FIXTURES)
    assert [d["gold"] for d in tfns] == ["positive", "negative", "neutral"]  # 1 pos, 0 neg, 2 neu
    assert tfns[0]["prompt"] == FINANCE.format("tweet", "$ALLY - Ally Financial upgraded to buy")


def test_pubmedqa_prompt():
    first = column_docs(column("medical", "pubmedqa"), FIXTURES)[0]
    assert first["prompt"] == WRAP.format(
        "As an expert doctor in clinical science and medical knowledge, can you tell me if the following "
        "statement is correct? Answer yes, no, or maybe.\nStatins are widely used.\nMortality was lower in "
        "treated patients.\nDo statins reduce mortality after stroke?\nThe answer is:\n"
    )
    assert first["gold"] == "yes" and first["rule"] == "yes_no_maybe"


def test_medical_answer_keys():
    golds = lambda key: [d["gold"] for d in column_docs(column("medical", key), FIXTURES)]
    assert golds("medmcqa") == ["C", "A", "B"]  # cop 0-3
    assert golds("careqa") == ["B", "A", "D"]  # cop 1-4
    medqa = column_docs(column("medical", "medqa"), FIXTURES)
    assert [d["gold"] for d in medqa] == ["A", "B", "C"]
    assert medqa[1]["prompt"] == WRAP.format(
        prompts.MEDICAL_INSTRUCTIONS["medqa"]
        + "\nQuestion: Which drug reverses heparin?\n\nOptions:\nA. Vitamin K\nB. Protamine sulfate\n"
        "C. Naloxone\nD. Flumazenil\nThe answer is:\n"
    )
    careqa = column_docs(column("medical", "careqa"), FIXTURES)
    assert careqa[0]["prompt"].startswith(f"<|im_start|>question\n{prompts.MEDICAL_INSTRUCTIONS['careqa']}\n")


def test_missing_local_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfns"):
        column_docs(column("finance", "tfns"), tmp_path)


def test_medqa_row_without_matching_answer_is_rejected():
    row = {"question": "Q", "answer": "none of these", "options": [{"key": "A", "value": "x"}]}
    with pytest.raises(ValueError, match="MedQA"):
        docs.medqa_doc(row)
