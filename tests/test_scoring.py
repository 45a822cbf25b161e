"""Hand-worked examples of the official FlowerTune scoring rules (DESIGN.md section 3)."""

import pytest

from evaluator import scoring


@pytest.mark.parametrize(
    ("output", "parsed"),
    [
        ("A", "a"),
        (" B", "b"),
        ("c.", "c"),
        ("(D) because", "d"),
        ("E", "e"),
        ("answer: c", "a"),  # first character after the clean-up: the quirk of the protocol
        ("The answer is B", "the answer is b"),  # 't' is not a-e: raw lower-cased output
        ("", ""),
        ("  ", "  "),  # nothing left after the clean-up: raw output
        ("?!", "?!"),
        ("1", "1"),  # a digit survives the clean-up but is no letter: raw output again
        ("é", "é"),  # non-ASCII becomes a space, then nothing is left
        ("foo\n## B is right\nignored", "b"),  # the first line after "\n##" is what counts
        ("x\n##\nA", "x\n##\na"),  # empty line after "\n##": nothing left, raw output
    ],
)
def test_parse_mcq(output, parsed):
    assert scoring.parse_mcq(output) == parsed


def test_mcq_verdicts():
    assert scoring.mcq_correct("A", "A")
    assert scoring.mcq_correct("a) Paris", "A")
    assert scoring.mcq_correct("answer: c", "A")  # scores as "a"
    assert not scoring.mcq_correct("answer: c", "C")
    assert not scoring.mcq_correct("The answer is B", "B")
    assert not scoring.mcq_correct("", "A")
    assert not scoring.mcq_correct("Bee", "A")


@pytest.mark.parametrize(
    ("output", "gold", "correct"),
    [
        ("yes", "yes", True),
        ("Yes.", "yes", True),
        (" no", "no", True),
        ("yesyes", "yes", True),
        ("nono", "no", True),
        ("yesno", "yes", True),  # folded to the first word
        ("noyes", "no", True),
        ("yes, because", "no", False),
        ("yes, because", "yes", False),  # no first-character cut: "yes because" is not "yes"
        ("maybe", "maybe", True),  # raw output equals the gold exactly
        ("Maybe", "maybe", True),  # lower-cased first
        (" maybe", "maybe", False),  # leading space: raw output differs
        ("maybe.", "maybe", False),
        ("", "no", False),
        ("n", "no", False),
    ],
)
def test_yes_no_maybe(output, gold, correct):
    assert scoring.yes_no_maybe_correct(output, gold) is correct


def test_parse_yes_no_maybe_shows_fallback():
    assert scoring.parse_yes_no_maybe("Yes!") == "yes"
    assert scoring.parse_yes_no_maybe(" Maybe") == " maybe"
    assert scoring.parse_yes_no_maybe("A") == "a"  # accepted by the upstream list, never a gold


def test_finance_extraction():
    prompt = "Instruction: x\nInput: y\nAnswer: "
    assert scoring.extract_finance_answer(prompt + "positive") == "positive"
    assert scoring.extract_finance_answer(prompt + "neg Answer: positive") == "neg "  # up to a second one
    assert scoring.extract_finance_answer("no marker at all") is None
    assert scoring.extract_finance_answer("Answer:positive") is None  # the space is part of the marker


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("positive", "positive"),
        ("Positive.", "positive"),
        ("negative but positive", "positive"),  # positive is checked first
        ("Negative", "negative"),
        ("NEGATIVE", "neutral"),  # only the two spellings count
        ("neutral", "neutral"),
        ("", "neutral"),
        ("moderately good", "neutral"),
    ],
)
def test_sentiment_label(text, label):
    assert scoring.sentiment_label(text) == label


def test_finance_verdicts():
    assert scoring.finance_correct("positive</s>", "positive")
    assert scoring.finance_correct("I am not sure", "neutral")  # anything else maps to neutral
    assert not scoring.finance_correct("negative", "neutral")
    assert not scoring.finance_correct(None, "neutral")  # no answer at all is wrong


def test_accuracy_and_average():
    assert scoring.accuracy_percent([True, False, False, True]) == 50.0
    assert scoring.accuracy_percent([True, True, True]) == 100.0
    assert scoring.unweighted_average([44.55, 62.50, 28.77]) == pytest.approx(45.2733, abs=1e-4)
    with pytest.raises(ValueError):
        scoring.accuracy_percent([])
    with pytest.raises(ValueError):
        scoring.unweighted_average([])
