"""The arena serves only what fits in this machine's memory, and says so: a base whose size at the arena's
precision exceeds the memory budget is not offered. A real tiny Llama (local) and a 7B base on the local Hub
(its safetensors header only), no mocks."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from transformers import AutoModelForCausalLM

from arena.memory import HEADROOM, MemoryCheck, local_parameter_count
from arena.service import ArenaError, ArenaService
from models.loading import LoadOptions, ModelRef
from store.base import LocalStore
from tests.hub_server import HubServer
from tests.tiny_models import build_lora, build_tiny_llama

CPU_FP32 = LoadOptions("cpu", torch.float32, False)
CUDA_4BIT = LoadOptions("cuda", torch.bfloat16, True)
SEVEN_B = 7_000_000_000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory-models")
    base = build_tiny_llama(root / "base")
    return {"base": base, "a": build_lora(base, root / "a", seed=1), "b": build_lora(base, root / "b", seed=2)}


def entry(i: int, base: str, base_commit: str, adapter: str) -> dict:
    return {"id": f"result-req-{i}", "request_id": f"req-{i}", "challenge": "general_nlp", "source": "evaluated",
            "team": f"Team {i}", "name": f"team{i}/adapter", "average": 50.0 + i, "date": "2026-01-14",
            "model_repo": adapter, "model_commit": f"{i}" * 40, "base_model": base, "base_commit": base_commit}


def service_on(tmp_path, records, options, memory_gb: float) -> ArenaService:
    store = LocalStore(tmp_path / "data")
    for record in records:
        store.put("results", record)
    return ArenaService(store, memory=MemoryCheck(options, {"ARENA_MEMORY_GB": str(memory_gb)}))


def header_only_safetensors(parameters: int) -> bytes:
    """A safetensors header declaring ``parameters`` float32 weights (the Hub counts parameters from it)."""
    header = json.dumps({"model.weight": {"dtype": "F32", "shape": [parameters], "data_offsets": [0, 0]}}).encode()
    return struct.pack("<Q", len(header)) + header


def test_the_parameter_count_of_a_local_model_is_read_from_its_headers(tiny):
    model = AutoModelForCausalLM.from_pretrained(tiny["base"])
    assert local_parameter_count(tiny["base"]) == sum(p.numel() for p in model.state_dict().values())


def test_a_7b_base_in_fp32_is_not_offered_on_a_16_gb_machine(tmp_path, hub_server: HubServer, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    commit = hub_server.add_model("org/big-base", {"config.json": b"{}",
                                                   "model.safetensors": header_only_safetensors(SEVEN_B)})
    records = [entry(1, "org/big-base", commit, "team1/adapter"), entry(2, "org/big-base", commit, "team2/adapter")]
    service = service_on(tmp_path, records, CPU_FP32, memory_gb=16)
    assert service.entries("general_nlp") == []
    note = service.board_note("general_nlp")
    assert "This board has 0 entries the arena can serve" in note and "2 more are left out" in note
    assert "needs about 34 GB of memory (ARENA_MEMORY_GB) at the arena's precision" in note  # 7e9 × 4 B × 1.2
    assert "this machine has 16 GB: it is not served here." in note
    with pytest.raises(ArenaError, match="needs about 34 GB"):
        service.new_battle("general_nlp", None, None, anonymous=False)

    in_4_bits = service_on(tmp_path, records, CUDA_4BIT, memory_gb=16)  # 7e9 × 0.5 B × 1.2 = 4.2 GB
    assert [e.id for e in in_4_bits.entries("general_nlp")] == ["result-req-2", "result-req-1"]
    assert in_4_bits.board_note("general_nlp") == ""


def test_a_board_with_entries_to_serve_still_says_which_are_left_out(tmp_path, tiny, hub_server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    commit = hub_server.add_model("org/big-base", {"model.safetensors": header_only_safetensors(SEVEN_B)})
    records = [entry(1, str(tiny["base"]), "b" * 40, str(tiny["a"])),
               entry(2, str(tiny["base"]), "b" * 40, str(tiny["b"])),
               entry(3, "org/big-base", commit, "team3/adapter")]
    service = service_on(tmp_path, records, CPU_FP32, memory_gb=16)
    assert [e.id for e in service.entries("general_nlp")] == ["result-req-2", "result-req-1"]
    assert service.board_note("general_nlp") == (
        "ℹ️ 1 more is left out: Team 3 · team3/adapter needs about 34 GB of memory (ARENA_MEMORY_GB) at the "
        "arena's precision, and this machine has 16 GB: it is not served here.")


def test_a_tiny_model_answers_within_its_budget_and_is_refused_below_it(tmp_path, tiny):
    records = [entry(1, str(tiny["base"]), "b" * 40, str(tiny["a"])),
               entry(2, str(tiny["base"]), "b" * 40, str(tiny["b"]))]
    need_gb = local_parameter_count(tiny["base"]) * 4 * HEADROOM / 1e9

    refused = service_on(tmp_path / "small", records, CPU_FP32, memory_gb=need_gb * 0.9)
    assert refused.entries("general_nlp") == []
    with pytest.raises(ArenaError, match="it is not served here"):
        refused.new_battle("general_nlp", None, None, anonymous=True)

    served = service_on(tmp_path / "enough", records, CPU_FP32, memory_gb=need_gb * 1.1)
    battle = served.new_battle("general_nlp", None, None, anonymous=False)
    last = list(served.answer(battle, "Hello there", 0.0, 6, voter="session-1"))[-1]
    assert not last.warning and last.battle.messages("a")[-1]["content"]


def test_two_full_models_that_fit_one_by_one_but_not_together_are_refused_as_a_pair(tmp_path, tiny):
    full = [{**entry(i, "", "", str(tiny["base"])), "kind": "merged_model", "model_commit": f"{i}" * 40}
            for i in (1, 2)]
    full[1]["model_repo"] = str(tiny["a"].parent / "base-copy")
    (tiny["a"].parent / "base-copy").symlink_to(tiny["base"], target_is_directory=True)
    one_gb = local_parameter_count(tiny["base"]) * 4 * HEADROOM / 1e9
    service = service_on(tmp_path, full, CPU_FP32, memory_gb=one_gb * 1.5)
    assert len(service.entries("general_nlp")) == 2
    with pytest.raises(ArenaError, match=r"This pair \(two full models side by side\) needs about"):
        service.new_battle("general_nlp", None, None, anonymous=False)


def test_the_budget_is_measured_when_not_configured():
    fit = MemoryCheck(CPU_FP32, {}, count=lambda ref: 1000).fit([ModelRef("org/small", "c" * 40)])
    assert fit.fits and fit.where == "RAM" and fit.have > 0 and fit.need == 1000 * 4 * HEADROOM


@pytest.mark.parametrize("value", ["lots", "0", "-1", "nan"])
def test_a_bad_memory_setting_switches_the_arena_off_naming_it(tmp_path, value):
    with pytest.raises(ValueError, match="ARENA_MEMORY_GB must be a positive number of gigabytes"):
        ArenaService.from_env(LocalStore(tmp_path), {"ARENA_DEMO": "off", "ARENA_MEMORY_GB": value})
