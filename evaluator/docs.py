"""Official rows -> evaluation documents per dataset format.

FlowerTune documents are ``{"prompt", "gold", "rule"}``; ``rule`` names the scoring rule (see
:mod:`evaluator.scoring`): ``mcq``, ``yes_no_maybe`` or ``sentiment``. Merging documents are
``{"prompt", "choices", "label"}`` (cosmos_qa) and ``{"prompt", "gold"}`` (xsum). The ``format``
field of a column's ``evaluation:`` block (default: its ``suite``) picks the converter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evaluator import prompts

Row = dict[str, Any]
Doc = dict[str, Any]
LETTERS = "ABCD"
FPB_LABELS = {0: "negative", 1: "neutral", 2: "positive"}
TFNS_LABELS = {0: "negative", 1: "positive", 2: "neutral"}


def _mcq(instruction: str, question: str, options: list[str], gold: str) -> Doc:
    return {"prompt": prompts.mcq_prompt(instruction, question, options), "gold": gold, "rule": "mcq"}


def mmlu_doc(row: Row) -> Doc:
    return _mcq(prompts.MMLU_INSTRUCTION, row["question"], list(row["choices"]), LETTERS[int(row["answer"])])


def medmcqa_doc(row: Row) -> Doc:
    options = [row["opa"], row["opb"], row["opc"], row["opd"]]
    return _mcq(prompts.MEDICAL_INSTRUCTIONS["medmcqa"], row["question"], options, LETTERS[int(row["cop"])])


def careqa_doc(row: Row) -> Doc:
    options = [row["op1"], row["op2"], row["op3"], row["op4"]]
    gold = LETTERS[int(row["cop"]) - 1]  # cop is 1-based here
    return _mcq(prompts.MEDICAL_INSTRUCTIONS["careqa"], row["question"], options, gold)


def medqa_doc(row: Row) -> Doc:
    """bigbio/med_qa 4-option source rows: the gold is the key of the option equal to ``answer``."""
    options = [opt["value"] for opt in row["options"]]
    keys = [opt["key"] for opt in row["options"] if opt["value"] == row["answer"]]
    if not keys:
        raise ValueError(f"MedQA row without an option equal to its answer: {row['question'][:80]!r}")
    gold = keys[0]  # the first match, as upstream's loop breaks there
    return _mcq(prompts.MEDICAL_INSTRUCTIONS["medqa"], row["question"], options, gold)


def pubmedqa_doc(row: Row) -> Doc:
    prompt = prompts.pubmedqa_prompt(list(row["CONTEXTS"]), row["QUESTION"])
    return {"prompt": prompt, "gold": row["final_decision"], "rule": "yes_no_maybe"}


def _sentiment(text: str, gold: str, kind: str = "news") -> Doc:
    return {"prompt": prompts.finance_prompt(text, kind), "gold": gold, "rule": "sentiment"}


def fpb_doc(row: Row) -> Doc:
    return _sentiment(row["sentence"], FPB_LABELS[int(row["label"])])


def tfns_doc(row: Row) -> Doc:
    return _sentiment(row["text"], TFNS_LABELS[int(row["label"])], kind="tweet")


def fiqa_label(score: float) -> str:
    if score < -0.1:
        return "negative"
    if score < 0.1:
        return "neutral"
    return "positive"


def fiqa_doc(row: Row) -> Doc:
    kind = "tweet" if row["format"] == "post" else "news"
    return _sentiment(row["sentence"], fiqa_label(float(row["sentiment_score"])), kind)


def cosmos_qa_doc(row: Row) -> Doc:
    """Merging validation: the four answers are scored by summed log-likelihood after the prompt."""
    prompt = f"{row['context']}\nQuestion: {row['question']}\nAnswer:"
    return {"prompt": prompt, "choices": [row[f"answer{i}"] for i in range(4)], "label": int(row["label"])}


def xsum_doc(row: Row) -> Doc:
    return {"prompt": f"Document: {row['document']}\nSummary:", "gold": row["summary"]}


CONVERTERS: dict[str, Callable[[Row], Doc]] = {
    "cosmos_qa": cosmos_qa_doc,
    "xsum": xsum_doc,
    "mmlu": mmlu_doc,
    "medmcqa": medmcqa_doc,
    "careqa": careqa_doc,
    "medqa": medqa_doc,
    "pubmedqa": pubmedqa_doc,
    "fpb": fpb_doc,
    "fiqa": fiqa_doc,
    "tfns": tfns_doc,
}


def official_test_split(rows: list[Row], test_size: float, seed: int) -> list[Row]:
    """The rows ``datasets``' ``train_test_split(test_size, seed=seed)["test"]`` keeps (same order)."""
    import datasets

    return datasets.Dataset.from_list(rows).train_test_split(test_size=test_size, seed=seed)["test"].to_list()


def build_docs(evaluation: dict[str, Any], rows: list[Row]) -> list[Doc]:
    """Documents of one column, in the official order (after the 25 % split if any)."""
    fmt = evaluation.get("format", evaluation["suite"])
    if fmt not in CONVERTERS:
        raise ValueError(f"unknown dataset format {fmt!r}; known: {sorted(CONVERTERS)}")
    if "test_size" in evaluation:
        rows = official_test_split(rows, float(evaluation["test_size"]), int(evaluation["seed"]))
    return [CONVERTERS[fmt](row) for row in rows]
