"""The vLLM backend of the arena against a small real server on 127.0.0.1 that speaks vLLM's streaming and
runtime-LoRA protocol (tests/vllm_server.py): a real tiny Llama's tokenizer, real LoRA adapter directories,
real HTTP; no mocks."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from arena.generation import Side, build_prompt, collect
from arena.limits import Limits, Sampling
from arena.service import ArenaService
from arena.vllm_backend import VllmBackend, VllmSettings
from arena.vllm_client import ServerError
from models.loading import ModelRef
from store.base import LocalStore
from tests.tiny_models import build_lora, build_tiny_llama
from tests.vllm_server import FAILURE, VllmStandIn

QUESTION = "What is the capital of France?"
BASE_COMMIT = "b" * 40


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vllm-models")
    base = build_tiny_llama(root / "base")
    return {"base": base, "a": build_lora(base, root / "lora_a", seed=1), "b": build_lora(base, root / "lora_b", seed=2)}


def side(models, adapter: str, commit: str) -> Side:
    return Side(ModelRef(str(models["base"]), BASE_COMMIT), ModelRef(str(models[adapter]), commit))


def backend_for(server_url: str, models, adapter_dir: Path | None = None) -> VllmBackend:
    return VllmBackend(VllmSettings(server_url, ModelRef(str(models["base"]), BASE_COMMIT), adapter_dir))


def result(i: int, average: float, models, adapter: str) -> dict:
    return {"id": f"result-req-{i}", "request_id": f"req-{i}", "challenge": "general_nlp", "source": "evaluated",
            "team": f"Team {i}", "name": f"team{i}/adapter", "average": average, "date": "2026-01-14",
            "model_repo": str(models[adapter]), "model_commit": f"{i}" * 40,
            "base_model": str(models["base"]), "base_commit": BASE_COMMIT}


def service_on(tmp_path: Path, models, backend: VllmBackend, limits: Limits | None = None) -> ArenaService:
    store = LocalStore(tmp_path / "data")
    store.put("results", result(1, 60.0, models, "a"))
    store.put("results", result(2, 70.0, models, "b"))
    return ArenaService(store, limits=limits or Limits(), stream=backend.stream_pair)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_two_sides_stream_in_turn_with_the_servers_text_and_each_adapter_loaded_once(models):
    a, b = side(models, "a", "1" * 40), side(models, "b", "2" * 40)
    path_a, path_b = str(models["a"].resolve()), str(models["b"].resolve())
    answers = {path_a: ["Paris ", "is ", "the ", "capital ", "of ", "France."], path_b: ["Lyon", "? ", "No."]}
    with VllmStandIn(str(models["base"]), answers=answers, delay={path_a: 0.03, path_b: 0.0}) as server:
        backend = backend_for(server.url, models)
        events = list(backend.stream_pair(a, b, QUESTION, sampling=Sampling(0.0, 40), limits=Limits(max_new_tokens=32)))
        # in turn, though b's answer is all there before a's first word; b leaves the rotation when done
        assert [s for s, _ in events] == ["a", "b", "a", "b", "a", "b", "a", "a", "a"]
        assert collect(events) == {"a": "Paris is the capital of France.", "b": "Lyon? No."}
        assert server.max_in_flight == 2  # both requests streamed at once
        by_model = {c.body["model"]: c for c in server.completions}
        assert set(by_model) == {a.adapter.adapter_name, b.adapter.adapter_name}  # one LoRA module per entry
        assert collect(events)["a"] == by_model[a.adapter.adapter_name].text
        # the prompt and decoding settings are the peft path's
        tokenizer = AutoTokenizer.from_pretrained(models["base"])
        prompt, special = build_prompt(tokenizer, [], QUESTION)
        body = by_model[a.adapter.adapter_name].body
        assert (body["prompt"], body["add_special_tokens"], body["stream"]) == (prompt, special, True)
        assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"]) == (32, 0.0, 0.95, -1)
        assert tokenizer.eos_token_id in body["stop_token_ids"]
        # a second turn: nothing loaded again; each side sees its own history
        history = ((QUESTION, "Paris is the capital of France.", "Lyon? No."),)
        list(backend.stream_pair(a, b, "And Italy?", history, Sampling(0.0, 8)))
        assert [(c["lora_name"], c["lora_path"]) for c in server.load_calls] == [
            (a.adapter.adapter_name, str(models["a"].resolve())), (b.adapter.adapter_name, str(models["b"].resolve()))]
        later = {c.body["model"]: c.body["prompt"] for c in server.completions[2:]}
        assert "Paris is the capital" in later[a.adapter.adapter_name]
        assert "Lyon? No." in later[b.adapter.adapter_name] and "Paris" not in later[b.adapter.adapter_name]


def test_the_compare_handler_streams_both_panes_from_the_server(tmp_path, models):
    with VllmStandIn(str(models["base"])) as server:
        service = service_on(tmp_path, models, backend_for(server.url, models))
        battle = service.new_battle("general_nlp", None, None, anonymous=False)
        frames = list(service.answer(battle, QUESTION, 0.0, 12, voter="v"))
        lengths = [len(f.battle.turns[-1][1]) for f in frames[1:]]
        assert lengths == sorted(lengths) and len(set(lengths)) >= 5  # pane a grows increment by increment
        final = frames[-1]
        assert "Vote when you are ready" in final.status and not final.warning and not final.battle.answering
        texts = {c.body["model"]: c.text for c in server.completions}
        assert final.battle.turns[0][1:] == (texts[battle.a.side.adapter.adapter_name],
                                             texts[battle.b.side.adapter.adapter_name])
        assert final.battle.turns[0][1] == "lora_b answers 1 2 3 4 5 6 7 8 "  # entry 2 ranks first: side a


def test_a_server_that_is_down_is_a_message_and_changes_nothing(tmp_path, models):
    url = closed_port_url()
    service = service_on(tmp_path, models, backend_for(url, models))
    battle = service.new_battle("general_nlp", None, None, anonymous=False)
    final = list(service.answer(battle, QUESTION, 0.0, 12, voter="v"))[-1]
    assert final.warning and final.battle == battle
    assert final.status == (f"⚠️ The generation server ({url}) is not reachable, so nothing was answered. Try again "
                            "in a minute.")


def test_a_refused_adapter_is_a_message_naming_it(tmp_path, models):
    refusal = "LoRA rank 64 is greater than max_lora_rank 16."
    with VllmStandIn(str(models["base"]), refuse={str(models["b"].resolve()): refusal}) as server:
        service = service_on(tmp_path, models, backend_for(server.url, models))
        battle = service.new_battle("general_nlp", None, None, anonymous=False)
        final = list(service.answer(battle, QUESTION, 0.0, 12, voter="v"))[-1]
        assert final.warning and final.battle == battle and server.completions == []
        assert final.status == f"⚠️ The generation server refused the adapter of Model A: {refusal}"
    with VllmStandIn(str(models["base"]), runtime_lora=False) as server:
        service = service_on(tmp_path / "2", models, backend_for(server.url, models))
        final = list(service.answer(battle, QUESTION, 0.0, 12, voter="v"))[-1]
        assert final.warning and final.status.endswith(
            ": Not Found (the server was started without VLLM_ALLOW_RUNTIME_LORA_UPDATING=True)")


def test_a_failure_mid_answer_keeps_what_was_written_and_says_so(tmp_path, models):
    with VllmStandIn(str(models["base"]), fail_after=3) as server:
        service = service_on(tmp_path, models, backend_for(server.url, models))
        battle = service.new_battle("general_nlp", None, None, anonymous=False)
        final = list(service.answer(battle, QUESTION, 0.0, 12, voter="v"))[-1]
        assert final.warning and not final.battle.answering
        assert final.status == f"⚠️ The generation server failed while answering: {FAILURE}"
        assert final.battle.turns[0][1] == "lora_b answers 1 "  # the three chunks sent before the failure


def test_an_entry_on_another_base_is_refused_before_anything_is_sent(models):
    other = Side(ModelRef(str(models["base"]), "c" * 40), ModelRef(str(models["a"]), "1" * 40))
    with VllmStandIn(str(models["base"])) as server:
        backend = backend_for(server.url, models)
        with pytest.raises(ServerError, match=f"Model A runs on {models['base']}@cccccccccccc; the generation server"):
            list(backend.stream_pair(other, side(models, "b", "2" * 40), QUESTION))
        assert server.load_calls == [] and server.completions == []


def test_stop_ends_both_answers_and_the_server_sees_both_requests_end(tmp_path, models):
    with VllmStandIn(str(models["base"]), endless=True) as server:
        service = service_on(tmp_path, models, backend_for(server.url, models))
        battle = service.new_battle("general_nlp", None, None, anonymous=False)
        stop = threading.Event()
        frames, stopped_at = [], None
        for frame in service.answer(battle, QUESTION, 0.7, 1000, voter="v", stop=stop):
            frames.append(frame)
            if stopped_at is None and len(frame.battle.turns[-1][2]) > 20:
                stop.set()
                stopped_at = time.monotonic()
        assert time.monotonic() - stopped_at < 1.0
        final = frames[-1]
        assert final.status.startswith("Stopped.") and not final.warning and final.battle.turns[0][1]
        for completion in server.completions:  # the connections were closed: vLLM aborts such requests
            assert completion.done.wait(5) and completion.hung_up


def test_the_time_limit_cuts_both_answers_and_keeps_what_was_written(tmp_path, models):
    with VllmStandIn(str(models["base"]), endless=True) as server:
        service = service_on(tmp_path, models, backend_for(server.url, models), Limits(max_seconds=0.5))
        battle = service.new_battle("general_nlp", None, None, anonymous=False)
        started = time.monotonic()
        final = list(service.answer(battle, QUESTION, 0.7, 1000, voter="v"))[-1]
        assert time.monotonic() - started < 3
        assert final.warning and "cut at the 0.5 s time limit" in final.status
        assert final.battle.turns[0][1] and final.battle.turns[0][2] and not final.battle.answering
        for completion in server.completions:
            assert completion.done.wait(5) and completion.hung_up


def test_the_prompt_limit_is_checked_before_anything_is_sent(tmp_path, models):
    with VllmStandIn(str(models["base"])) as server:
        service = service_on(tmp_path, models, backend_for(server.url, models), Limits(max_prompt_tokens=5))
        battle = service.new_battle("general_nlp", None, None, anonymous=False)
        final = list(service.answer(battle, QUESTION, 0.0, 8, voter="v"))[-1]
        assert final.warning and "the limit is 5" in final.status
        assert server.load_calls == [] and server.completions == []


def test_a_restarted_server_gets_its_adapters_again(models):
    a, b = side(models, "a", "1" * 40), side(models, "b", "2" * 40)
    with VllmStandIn(str(models["base"])) as server:
        backend = backend_for(server.url, models)
        first = collect(backend.stream_pair(a, b, QUESTION))
        server.restart()
        assert collect(backend.stream_pair(a, b, QUESTION)) == first
        names = [a.adapter.adapter_name, b.adapter.adapter_name]
        assert sorted(c["lora_name"] for c in server.load_calls if c["accepted"]) == sorted(names * 2)
    # and an app restarted against a running server takes the server's adapters as loaded
    with VllmStandIn(str(models["base"])) as server:
        collect(backend_for(server.url, models).stream_pair(a, b, QUESTION))
        assert collect(backend_for(server.url, models).stream_pair(a, b, QUESTION)) == first


def test_an_adapter_from_the_hub_is_laid_out_at_its_pinned_commit(tmp_path, models, hub_server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    files = {p.name: p.read_bytes() for p in models["a"].iterdir() if p.is_file()}
    pinned = hub_server.add_model("team/adapter", files)
    hub_server.push("team/adapter", {"README.md": b"a later commit"})
    adapter = ModelRef("team/adapter", pinned)
    hub_side = Side(ModelRef(str(models["base"]), BASE_COMMIT), adapter)
    with VllmStandIn(str(models["base"])) as server:
        backend = backend_for(server.url, models, adapter_dir=tmp_path / "adapters")
        answers = collect(backend.stream_pair(hub_side, side(models, "b", "2" * 40), QUESTION))
        assert answers["a"] == f"{adapter.adapter_name} answers 1 2 3 4 5 6 7 8 "
        layout = tmp_path / "adapters" / adapter.adapter_name
        assert server.loaded_paths()[0] == str(layout)
        assert {p.name for p in layout.iterdir() if p.is_file()} == set(files)  # the pinned commit: no README


def test_the_environment_chooses_the_backend_and_bad_settings_name_the_variable(tmp_path, models):
    store = LocalStore(tmp_path / "data")
    base = f"{models['base']}@{BASE_COMMIT}"
    env = {"ARENA_DEMO": "smollm2", "LEADERBOARD_DATA_DIR": str(tmp_path)}
    peft = ArenaService.from_env(store, env)
    assert peft.stream.func.__name__ == "stream_pair" and peft.demo is not None  # the default, in process
    service = ArenaService.from_env(store, {**env, "ARENA_BACKEND": "vllm", "ARENA_VLLM_URL": "http://gpu:8000",
                                            "ARENA_VLLM_BASE": base, "ARENA_VLLM_ADAPTER_DIR": "/shared/adapters"})
    assert service.demo is None  # the server runs the boards' base, not the demo's
    backend = service.stream.__self__
    assert backend.settings == VllmSettings("http://gpu:8000", ModelRef(str(models["base"]), BASE_COMMIT),
                                            Path("/shared/adapters"))
    for bad, words in (({"ARENA_BACKEND": "tgi"}, "ARENA_BACKEND must be one of peft, vllm; got 'tgi'"),
                       ({"ARENA_BACKEND": "vllm", "ARENA_VLLM_BASE": base}, "needs ARENA_VLLM_URL"),
                       ({"ARENA_BACKEND": "vllm", "ARENA_VLLM_URL": "http://gpu:8000"}, "ARENA_VLLM_BASE: set it"),
                       ({"ARENA_BACKEND": "vllm", "ARENA_VLLM_URL": "http://gpu:8000",
                         "ARENA_VLLM_BASE": "org/base@main"}, "ARENA_VLLM_BASE: org/base: pin a commit sha")):
        with pytest.raises(ValueError, match=words):
            ArenaService.from_env(store, {**env, **bad})
