"""Each challenge's official precision, from its definition through to the loaded model, and generate calls
made as the official scripts make them (explicit token budget, the Finance script's batches)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from transformers import AutoTokenizer, GenerationConfig, LlamaForCausalLM

from challenges.definitions import challenges
from evaluator import queue, tasks
from evaluator.lm_run import OfficialHFLM, run_task
from evaluator.precision import PrecisionUnavailable, load_options
from evaluator.suites import _task_manager, column_docs, run_challenge
from evaluator.worker import Worker, WorkerConfig, partial_reasons, result_id_for
from models.loading import LoadOptions, ModelPool, ModelRef
from store.base import LocalStore
from tests.eval_helpers import FIXTURES, hflm, tiny_paths, write_jsonl

# what the official scripts load (DESIGN.md §3, evaluator/SUITES.md "Precision"): 4-bit type, compute, dtype
OFFICIAL = {
    "general_nlp": ("fp4", torch.float32, torch.float32),
    "medical": ("fp4", torch.float32, torch.float32),
    "finance": (None, None, torch.float16),
    "code": (None, None, torch.float32),
    "merging": (None, None, torch.float32),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_paths(tmp_path_factory.mktemp("tiny"))


def copy_of_base(models, tmp_path_factory, name: str) -> Path:
    base, _ = models
    root = tmp_path_factory.mktemp(name)
    for item in Path(base).iterdir():
        (root / item.name).write_bytes(item.read_bytes())
    return root


@pytest.fixture(scope="module")
def pad_is_eos(models, tmp_path_factory):
    """A copy of the tiny base whose tokenizer pads with EOS (as many Llama-family tokenizers are shipped)."""
    base, _ = models
    root = copy_of_base(models, tmp_path_factory, "pad-eos")
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(root)
    return root


@pytest.mark.parametrize("challenge_id", list(OFFICIAL))
def test_each_challenge_loads_its_models_at_the_official_precision(models, challenge_id):
    import bitsandbytes as bnb

    base, adapter = models
    quant_type, compute, dtype = OFFICIAL[challenge_id]
    options = load_options(challenges()[challenge_id].precision, cuda=False)
    pool = ModelPool(options=LoadOptions("cpu", torch.bfloat16))  # a different default: never the one used
    with pool.use(ModelRef(str(base)), [ModelRef(str(adapter))], options=options) as lease:
        model = lease.model
        quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        if quant_type is None:
            assert quantized == []
        else:  # every linear layer of the decoder, FP4 with float32 compute, as BitsAndBytesConfig's defaults
            assert len(quantized) == 2 * 7
            assert {(m.weight.quant_state.quant_type, m.compute_dtype) for m in quantized} == {(quant_type, compute)}
        assert model.get_input_embeddings().weight.dtype == dtype
        assert model.get_output_embeddings().weight.dtype == dtype
        lora = {p.dtype for name, p in model.named_parameters() if "lora_" in name}
        assert lora == {torch.float32}  # adapters in float32, as peft loads them on the official scripts' bases


def test_finance_adds_a_pad_token_when_it_equals_eos_and_resizes_the_embeddings(pad_is_eos):
    pool = ModelPool()
    ref = ModelRef(str(pad_is_eos))
    with pool.use(ref, options=load_options(challenges()["finance"].precision, cuda=False)) as lease:
        vocab = len(AutoTokenizer.from_pretrained(pad_is_eos))
        assert lease.tokenizer.pad_token == "[PAD]" and lease.tokenizer.pad_token_id == vocab
        assert lease.model.get_input_embeddings().weight.shape[0] == vocab + 1
        assert lease.model.get_output_embeddings().weight.shape[0] == vocab + 1
    with pool.use(ref, options=load_options(challenges()["general_nlp"].precision, cuda=False)) as lease:
        assert lease.tokenizer.pad_token == lease.tokenizer.eos_token  # General NLP keeps EOS: no new token
        assert lease.model.get_input_embeddings().weight.shape[0] == vocab
    assert pool.loads == {ref: 2}  # loaded again at the other precision, not reused


def request(rid: str, base: Path, adapter: Path, challenge: str) -> dict:
    return {"id": rid, "challenge": challenge, "repo_id": str(adapter), "commit": None, "base_model": str(base),
            "base_commit": None, "team": "Tiny Team", "comm_gb": 1.5, "code_url": "https://github.com/t/t",
            "submitted_at": "2026-03-10T10:00:00+00:00", "state": "PENDING", "attempts": 0, "rules_version": "v1"}


def test_a_worker_without_bitsandbytes_fails_a_4bit_request_instead_of_using_another_precision(
        tmp_path, models, monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as on a worker where it is not installed
    with pytest.raises(PrecisionUnavailable, match="bitsandbytes"):
        load_options(challenges()["general_nlp"].precision)
    assert load_options(challenges()["finance"].precision, cuda=False).dtype == torch.float16  # needs none
    store = LocalStore(tmp_path)
    store.put("requests", request("r1", *models, challenge="general_nlp"))
    pool = ModelPool()
    worker = Worker(store, pool, WorkerConfig(worker_id="w1", data_dir=FIXTURES, limit=1))
    assert worker.run_once() == "r1"
    failed = store.get("requests", "r1")
    assert failed["state"] == queue.FAILED and failed["failure"]["cause"] == "evaluator"
    assert "bitsandbytes" in failed["failure"]["reason"] and "requirements-gpu.txt" in failed["failure"]["reason"]
    assert "4-bit FP4" in failed["failure"]["reason"]
    assert store.get("results", result_id_for("r1")) is None and pool.loads == {}


def test_a_precision_override_is_used_recorded_and_never_ranked(tmp_path, models):
    store = LocalStore(tmp_path)
    store.put("requests", request("r1", *models, challenge="general_nlp"))
    worker = Worker(store, ModelPool(), WorkerConfig(worker_id="w1", data_dir=FIXTURES, limit=1,
                                                     precision="float32"))
    assert worker.run_once() == "r1"
    result = store.get("results", result_id_for("r1"))
    provenance = result["provenance"]
    assert (provenance["dtype"], provenance["quantization"]) == ("float32", None)
    assert result["source"] == "partial"
    assert any("EVALUATOR_PRECISION=float32" in reason and "4-bit FP4" in reason
               for reason in provenance["partial"])


def test_overrides_are_checked_and_explained():
    general = challenges()["general_nlp"]
    with pytest.raises(ValueError, match="EVALUATOR_PRECISION"):
        WorkerConfig.from_env({"EVALUATOR_PRECISION": "float8"})
    assert partial_reasons(WorkerConfig(), general) == []
    assert partial_reasons(WorkerConfig(batch_size=1), general) == []  # the official batch size
    [reason] = partial_reasons(WorkerConfig.from_env({"EVALUATOR_BATCH_SIZE": "8"}), general)
    assert reason.startswith("batch size 8 (EVALUATOR_BATCH_SIZE")
    finance = challenges()["finance"]
    [reason] = partial_reasons(WorkerConfig(), finance, batch_size=2)  # halved after running out of memory
    assert "batch size 2" in reason and "4 prompt(s) per call" in reason
    assert partial_reasons(WorkerConfig(), finance, batch_size=4) == []


@pytest.fixture(scope="module")
def chatty(models, tmp_path_factory):
    """The tiny base with ``max_new_tokens: 7`` in its saved generation config."""
    root = copy_of_base(models, tmp_path_factory, "chatty")
    GenerationConfig(max_new_tokens=7, eos_token_id=None).save_pretrained(root)
    return root


def generated_tokens(lm_class, path: Path, prompt: str, budget: int) -> tuple[int, str]:
    """How many tokens one generate_until request produced (forward passes with one new position each)."""
    model = LlamaForCausalLM.from_pretrained(path).eval()
    assert model.generation_config.max_new_tokens == 7
    steps = []
    model.register_forward_pre_hook(lambda _m, args, kwargs: steps.append(1), with_kwargs=True)
    lm = lm_class(pretrained=model, tokenizer=AutoTokenizer.from_pretrained(path), batch_size=1)
    request = Instance(request_type="generate_until", doc={}, idx=0,
                       arguments=(prompt, {"until": [], "do_sample": False, "max_gen_toks": budget}))
    [output] = lm.generate_until([request])
    return len(steps), output


def test_a_models_own_generation_config_does_not_change_the_answer_budget(chatty):
    prompt = "Answer the following multiple choice question."
    assert generated_tokens(HFLM, chatty, prompt, 2)[0] == 7  # what lm-eval alone does: the model's 7
    steps, output = generated_tokens(OfficialHFLM, chatty, prompt, 2)
    assert steps == 2
    # the official call: generate(max_new_tokens=<tokens of the gold>)
    tokenizer = AutoTokenizer.from_pretrained(chatty)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    official = LlamaForCausalLM.from_pretrained(chatty).eval().generate(ids, max_new_tokens=2, do_sample=False)
    assert official.shape[1] - ids.shape[1] == 2
    assert output == tokenizer.decode(official[0, ids.shape[1]:], skip_special_tokens=True)


def official_finance_outputs(path: Path, prompts: list[str], batch_size: int) -> list[str]:
    """The Finance script's loop, in our words: batches of ``batch_size`` prompts in dataset order, padded on
    the left, ``generate(max_length=512)``, the decoded continuation of each row."""
    model = LlamaForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    outputs = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**batch, max_length=tasks.FINANCE_MAX_LENGTH, eos_token_id=tokenizer.eos_token_id,
                                 do_sample=False)
        outputs += tokenizer.batch_decode(out[:, batch.input_ids.shape[1]:], skip_special_tokens=True)
    return outputs


def test_finance_generates_in_the_official_batches_in_dataset_order(models, tmp_path):
    """Prompts of different lengths: lm-eval alone would batch them by length, so padding (and with it the
    512-token budget) would fall differently; in the official batches every output is the official one."""
    base, _ = models
    words = ["profit", "rose", "sharply", "after", "the", "earnings", "report", "and", "shares"]
    write_jsonl(tmp_path / "fpb.jsonl", [{"sentence": " ".join(words[: 1 + (i * 7) % len(words)]) + ".",
                                          "label": i % 3} for i in range(24)])
    column = challenges()["finance"].columns[0]
    docs = column_docs(column, tmp_path)
    assert len(docs) == 6 and len({len(d["prompt"]) for d in docs}) > 3
    official = official_finance_outputs(base, [d["prompt"] for d in docs], batch_size=4)

    model = LlamaForCausalLM.from_pretrained(base).eval()
    lm = OfficialHFLM(pretrained=model, tokenizer=AutoTokenizer.from_pretrained(base), batch_size=4)
    out = run_task(lm, _task_manager(), tasks.generation_task("fpb_order", "sentiment", docs, lm))
    assert [s["resps"][0][0] for s in sorted(out["samples"]["fpb_order"], key=lambda s: s["doc_id"])] == official
    # batches of prompts of similar length (lm-eval's own order) would give other outputs
    by_length = sorted(range(len(docs)), key=lambda i: -len(docs[i]["prompt"]))
    resorted = official_finance_outputs(base, [docs[i]["prompt"] for i in by_length], batch_size=4)
    assert [resorted[by_length.index(i)] for i in range(len(docs))] != official


def test_general_nlp_generates_as_the_official_loop_one_prompt_per_call(models):
    """The official MMLU loop, in our words: each prompt alone (no padding), ``generate`` with as many new
    tokens as the gold of its batch of 16 has, greedy, EOS as pad; the suite at the definition's batch size
    produces the same output for every question."""
    base, adapter = models
    challenge = challenges()["general_nlp"]
    lm = hflm(base, adapter, batch_size=challenge.precision.batch_size)
    result = run_challenge(challenge, lm, data_dir=FIXTURES)
    for column in challenge.columns:
        records = result.records[column.key]
        budgets = tasks.gold_token_budgets(column_docs(column, FIXTURES), lm.tokenizer)
        for record, budget in zip(records, budgets, strict=True):
            ids = lm.tokenizer.encode(record["prompt"], return_tensors="pt")
            with torch.no_grad():
                out = lm.model.generate(inputs=ids, max_new_tokens=budget, do_sample=False,
                                        pad_token_id=lm.tokenizer.eos_token_id)
            assert record["output"] == lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
