"""Pure scoring rules, exactly as the official FlowerTune evaluation scripts apply them.

See DESIGN.md section 3. The quirks are part of the protocol and are kept on purpose: a
multiple-choice output ``answer: c`` scores as ``a`` (first character after the clean-up) and
``The answer is B`` is wrong; a PubMedQA ``maybe`` only counts when the raw output is exactly it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MCQ_LETTERS = ("a", "b", "c", "d", "e")
# The official ``format_answer`` accepts a cleaned output only if it is one of these; anything
# else falls back to the raw lower-cased output.
ACCEPTED_CLEAN = (*MCQ_LETTERS, "yes", "no")
_NOT_ALNUM = re.compile(r"[^a-zA-Z0-9]")
_SPACES = re.compile(" +")
# Folded in this order; only the first pattern present is folded (an if/elif chain upstream).
_BOOLEAN_FOLDS = (("yesyes", "yes"), ("nono", "no"), ("yesno", "yes"), ("noyes", "no"))


def _clean(output: str) -> str:
    """Lower-cased output -> text after the first ``\\n##`` line, non-alphanumerics as single spaces."""
    if "\n##" in output:
        output = output.split("\n##")[1].split("\n")[0].strip().lower()
    output = _NOT_ALNUM.sub(" ", output).strip()
    return _SPACES.sub(" ", output)


def parse_mcq(output: str) -> str:
    """The prediction the official multiple-choice rule compares with the gold letter.

    Lower-cases, cleans, takes the first character; if that is not a letter a-e the raw
    lower-cased output is the prediction (so it almost never matches).
    """
    raw = output.lower()
    cleaned = _clean(raw)[:1]
    return cleaned if cleaned in ACCEPTED_CLEAN else raw


def parse_yes_no_maybe(output: str) -> str:
    """The prediction of the PubMedQA rule: cleaned ``yes``/``no`` (after folding doubled answers),
    otherwise the raw lower-cased output (which is how ``maybe`` has to match: exactly)."""
    raw = output.lower()
    cleaned = _clean(raw)
    for pattern, replacement in _BOOLEAN_FOLDS:
        if pattern in cleaned:
            cleaned = cleaned.replace(pattern, replacement)
            break
    return cleaned if cleaned in ACCEPTED_CLEAN else raw


def mcq_correct(output: str, gold: str) -> bool:
    return parse_mcq(output) == gold.lower()


def yes_no_maybe_correct(output: str, gold: str) -> bool:
    return parse_yes_no_maybe(output) == gold.lower()


def extract_finance_answer(decoded: str) -> str | None:
    """The answer part of a decoded finance sequence (prompt included): the text after the first
    ``Answer: `` (up to a second one, as ``split("Answer: ")[1]`` upstream); ``None`` if absent."""
    parts = decoded.split("Answer: ")
    return parts[1] if len(parts) > 1 else None


def sentiment_label(text: str) -> str:
    """positive if ``positive``/``Positive`` occurs, else negative likewise, else neutral.
    Applied to the gold label as well as to the model's answer."""
    if "positive" in text or "Positive" in text:
        return "positive"
    if "negative" in text or "Negative" in text:
        return "negative"
    return "neutral"


def finance_correct(answer: str | None, gold: str) -> bool:
    """An absent answer (no ``Answer: `` in the decoded text) is wrong, never mapped to neutral."""
    return answer is not None and sentiment_label(answer) == sentiment_label(gold)


def accuracy_percent(verdicts: Sequence[bool]) -> float:
    if not verdicts:
        raise ValueError("accuracy of an empty set of samples")
    return 100.0 * sum(bool(v) for v in verdicts) / len(verdicts)


def unweighted_average(scores: Iterable[float]) -> float:
    """A board's average: the plain mean of its per-dataset scores, whatever their sizes."""
    values = list(scores)
    if not values:
        raise ValueError("average of no scores")
    return sum(values) / len(values)
