"""lm-eval tasks built in Python from prepared documents (no YAML, no Hub access inside lm-eval).

Each column becomes one :class:`DocTask` whose test split is the list of documents the suite
prepared. Generation settings follow the official scripts:

- ``mcq`` / ``yes_no_maybe``: greedy, no stop string but EOS, ``max_new_tokens`` = the number of
  tokens of the gold answer. Upstream takes the gold of the *first row of each batch of 16* (its
  default batch size) for the whole batch; that is reproduced here so PubMedQA's ``maybe`` gets
  the same budget as upstream.
- ``sentiment`` (Finance): the model's own generation defaults, ``max_length`` 512 counted over
  the (left-padded) prompt plus the generation, as upstream's ``generate(max_length=512)``, in
  upstream's batches (``lm.batch_size`` prompts in dataset order, see ``lm_run.OfficialHFLM``).
- ``loglikelihood_choice`` (cosmos_qa): lm-eval ``multiple_choice``, accuracy by summed log-likelihood.
- ``rouge`` (xsum): greedy generation until a newline, ROUGE-L F1 against the reference summary.
"""

from __future__ import annotations

from typing import Any

import datasets
from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from evaluator import scoring
from evaluator.lm_run import DATASET_BATCH

# Text suite of a challenge column (its evaluation block's ``suite``) -> the scoring rule of its documents.
SUITE_RULES = {"mmlu": "mcq", "medical_mcq": "mcq", "pubmedqa": "yes_no_maybe", "finance_sentiment": "sentiment"}
OFFICIAL_BATCH_SIZE = 16
FINANCE_MAX_LENGTH = 512
XSUM_MAX_GEN_TOKS = 64
# lm-eval generation kwargs per kind of task (part of the task definition hash, evaluator.definition_hash)
GREEDY_TO_GOLD = {"until": [], "do_sample": False}  # plus max_gen_toks per document: gold_token_budgets
FINANCE_GENERATION = {"until": [], "max_length": FINANCE_MAX_LENGTH}  # plus the model's own sampling settings
XSUM_GENERATION = {"until": ["\n"], "do_sample": False, "max_gen_toks": XSUM_MAX_GEN_TOKS}


def gold_token_budgets(docs: list[dict[str, Any]], tokenizer) -> list[int]:
    """Per document: the token count of the gold of the first document of its batch of 16."""
    budgets = []
    for i in range(len(docs)):
        head = docs[i - i % OFFICIAL_BATCH_SIZE]["gold"]
        budgets.append(len(tokenizer(head, add_special_tokens=False)["input_ids"]))
    return budgets


def model_default_generation(model) -> dict[str, Any]:
    """The sampling settings of ``model.generation_config`` (lm-eval would otherwise force greedy)."""
    config = getattr(model, "generation_config", None)
    if config is None or not getattr(config, "do_sample", False):
        return {"do_sample": False}
    return {
        "do_sample": True,
        "temperature": float(config.temperature if config.temperature is not None else 1.0),
        "top_p": float(config.top_p if config.top_p is not None else 1.0),
        "top_k": int(config.top_k if config.top_k is not None else 50),
    }


def parse_output(rule: str, doc: dict[str, Any], output: str) -> str | None:
    """The parsed answer of one raw output under ``rule`` (what is compared with the gold)."""
    if rule == "mcq":
        return scoring.parse_mcq(output)
    if rule == "yes_no_maybe":
        return scoring.parse_yes_no_maybe(output)
    if rule == "sentiment":
        answer = scoring.extract_finance_answer(doc["prompt"] + output)
        return None if answer is None else scoring.sentiment_label(answer)
    raise ValueError(f"no parser for rule {rule!r}")


def verdict(rule: str, doc: dict[str, Any], output: str) -> bool:
    if rule == "mcq":
        return scoring.mcq_correct(output, doc["gold"])
    if rule == "yes_no_maybe":
        return scoring.yes_no_maybe_correct(output, doc["gold"])
    if rule == "sentiment":
        return scoring.finance_correct(scoring.extract_finance_answer(doc["prompt"] + output), doc["gold"])
    raise ValueError(f"no verdict for rule {rule!r}")


def rouge_l(prediction: str, reference: str) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return 100.0 * scorer.score(reference, prediction)["rougeL"].fmeasure


PER_DOC_GENERATION = ("max_gen_toks", DATASET_BATCH)


class DocTask(ConfigurableTask):
    """A ConfigurableTask whose documents may carry their own ``max_gen_toks`` and ``dataset_batch``."""

    def construct_requests(self, doc, ctx, **kwargs):
        own = {key: int(doc[key]) for key in PER_DOC_GENERATION if key in doc}
        if self.OUTPUT_TYPE != "generate_until" or not own:
            return super().construct_requests(doc, ctx, **kwargs)
        kwargs.pop("apply_chat_template", None)
        kwargs.pop("chat_template", None)
        gen = {**self.config.generation_kwargs, **own}
        return Instance(request_type="generate_until", doc=doc, arguments=(ctx, gen), idx=0, **kwargs)


def _config(name: str, docs: list[dict[str, Any]], **extra) -> dict[str, Any]:
    dataset = datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
    return {
        "task": name,
        "custom_dataset": lambda **_: dataset,
        "test_split": "test",
        "num_fewshot": 0,
        "doc_to_text": "prompt",
        **extra,
    }


def generation_task(name: str, rule: str, docs: list[dict[str, Any]], lm) -> DocTask:
    """A generate_until task scored by ``rule`` (``mcq``, ``yes_no_maybe`` or ``sentiment``)."""
    if rule == "sentiment":
        generation = {**FINANCE_GENERATION, **model_default_generation(lm.model)}
        docs = [{**doc, DATASET_BATCH: i // int(lm.batch_size)} for i, doc in enumerate(docs)]
    else:
        budgets = gold_token_budgets(docs, lm.tokenizer)
        docs = [{**doc, "max_gen_toks": budget} for doc, budget in zip(docs, budgets, strict=True)]
        generation = dict(GREEDY_TO_GOLD)
    config = _config(
        name,
        docs,
        output_type="generate_until",
        doc_to_target="gold",
        generation_kwargs=generation,
        process_results=lambda doc, results: {"acc": float(verdict(rule, doc, results[0]))},
        metric_list=[{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    )
    return DocTask(config=config)


def choice_task(name: str, docs: list[dict[str, Any]]) -> DocTask:
    """Multiple choice by summed log-likelihood; docs carry ``prompt``, ``choices``, ``label``."""
    config = _config(
        name,
        docs,
        output_type="multiple_choice",
        doc_to_choice="{{choices}}",
        doc_to_target="label",
        metric_list=[{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    )
    return DocTask(config=config)


def rouge_task(name: str, docs: list[dict[str, Any]]) -> DocTask:
    """Greedy summary generation scored by ROUGE-L F1 (percent); docs carry ``prompt``, ``gold``."""
    config = _config(
        name,
        docs,
        output_type="generate_until",
        doc_to_target="gold",
        generation_kwargs=dict(XSUM_GENERATION),
        process_results=lambda doc, results: {"rougeL": rouge_l(results[0], doc["gold"])},
        metric_list=[{"metric": "rougeL", "aggregation": "mean", "higher_is_better": True}],
    )
    return DocTask(config=config)
