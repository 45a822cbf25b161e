"""What the Compare and Arena tabs do, without Gradio: choose a pair, answer on both sides as a stream,
vote, and read the arena board. ``arena/ui.py`` only wires these to components.

A :class:`Battle` is one conversation between two entries; it lives in the visitor's ``gr.State`` (kept on
the server, so the names of an anonymous pair never reach the browser before the vote).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

from arena.demo import DEMO_BOARD, DEMO_TITLE, Demo, DemoUnavailable
from arena.generation import Turn, stream_pair
from arena.limits import LimitError, Limits, RateLimiter, check_message, clamp_sampling
from arena.memory import Fit, MemoryCheck
from arena.merge_cache import MergeCache, MergeUnavailable
from arena.pairing import ArenaEntry, default_pair, random_pair, servable_entries
from arena.salt import SaltUnavailable, check_salt_source, voter_salt
from arena.tally import ArenaBoard, arena_board
from arena.vllm_backend import VllmBackend, VllmSettings
from arena.vllm_client import ServerError
from arena.votes import (
    VoteRefused,
    VoteRules,
    check_voter,
    make_vote,
    on_space,
    record_vote,
    voter_id,
)
from challenges.definitions import challenges
from models.loading import LoadError, LoadOptions, ModelPool
from store.base import Record, Store, StoreError

log = logging.getLogger(__name__)
OUTCOME_WORDS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both are bad"}
BACKENDS = ("peft", "vllm")
# What answers a pair: ``stream_pair`` without its pool (the peft path) or ``VllmBackend.stream_pair``.
StreamPair = Callable[..., Iterator[tuple[str, str]]]


class ArenaError(LimitError):
    """A request the arena cannot serve; ``str(error)`` is the message for the visitor."""


@dataclass(frozen=True)
class Battle:
    board: str
    a: ArenaEntry
    b: ArenaEntry
    anonymous: bool
    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    turns: tuple[Turn, ...] = ()
    outcome: str | None = None
    answering: bool = False  # a stream is running: no vote until it ends

    def labels(self) -> tuple[str, str]:
        """The pane titles: hidden in anonymous mode until the vote."""
        if self.anonymous and self.outcome is None:
            return "Model A", "Model B"
        return f"A: {self.a.label}", f"B: {self.b.label}"

    def messages(self, side: str) -> list[dict[str, str]]:
        """One pane's conversation in Gradio's messages format."""
        out: list[dict[str, str]] = []
        for user, answer_a, answer_b in self.turns:
            out += [{"role": "user", "content": user},
                    {"role": "assistant", "content": answer_a if side == "a" else answer_b}]
        return out


@dataclass(frozen=True)
class Frame:
    """One step of an answer stream: the battle so far, a status line and whether it is a warning."""

    battle: Battle | None
    status: str = ""
    warning: bool = False


VOTES_RECHECK_S = 10.0  # how stale the ratings and the opening board may be (a vote shows within this)


class ArenaService:
    """``salt``: the voter-id salt; None keeps one in the store's private collection (read on the first vote,
    see :mod:`arena.salt`). ``stream``: what answers a pair; by default the peft path on ``pool``. ``memory``:
    what tells whether a board's models fit here (default on the peft path: this machine's memory; none when
    another ``stream`` answers, which runs the models elsewhere). ``merges``: where verified recipe entries are
    merged to be served (default on the peft path: ``ARENA_MERGE_CACHE``; none, so no recipe entries, when
    another ``stream`` answers)."""

    def __init__(self, store: Store, pool: ModelPool | None = None, demo: Demo | None = None,
                 limits: Limits = Limits(), vote_rules: VoteRules = VoteRules(), salt: str | None = None,
                 stream: StreamPair | None = None, memory: MemoryCheck | None = None,
                 merges: MergeCache | None = None, results: Callable[[str], list[Record]] | None = None):
        """``results(board)``: the board's result records (the app passes what its boards last read, so opening
        the arena lists no results collection); default: the store's results of that board (``Store.select``,
        by index where the store keeps one)."""
        self.store = store
        self.results = results or (lambda board: self.store.select("results", challenge=board))
        self.pool = pool or ModelPool(max_adapters=8, max_models=2, options=LoadOptions.auto())
        self.stream = stream or partial(stream_pair, self.pool)
        self.memory = memory or (MemoryCheck(self.pool.options) if stream is None else None)
        self.merges = merges or (MergeCache.from_env() if stream is None else None)
        self.demo = demo
        self.limits = limits
        self.vote_rules = vote_rules
        self._salt = salt
        self._salt_lock = threading.Lock()
        self.rate = RateLimiter(limits.requests_per_minute)
        self._stops: dict[str, threading.Event] = {}
        self._board_cache: dict[str, tuple[str, ArenaBoard]] = {}
        self.votes_recheck_s = VOTES_RECHECK_S
        self._votes_read: tuple[float, str, list[Record]] | None = None  # (monotonic time, version, votes)
        self._votes_lock = threading.Lock()

    @classmethod
    def from_env(cls, store: Store, environ, results: Callable[[str], list[Record]] | None = None) -> "ArenaService":
        """The arena as the environment configures it; raises :class:`SaltUnavailable` (a Space with no salt
        secret and no private store) or ``ValueError`` (a bad setting), each with words for the operator.
        ``ARENA_BACKEND`` chooses what answers: ``peft`` (default, in process) or ``vllm`` (a server, see
        :class:`arena.vllm_backend.VllmSettings`; no demo board then: the server runs another base)."""
        from store.factory import DEFAULT_DATA_DIR

        configured = environ.get("ARENA_VOTER_SALT", "").strip()
        check_salt_source(store, configured, on_space(environ))
        rules = VoteRules.from_env(environ)
        backend = (environ.get("ARENA_BACKEND") or "peft").strip().lower()
        if backend not in BACKENDS:
            raise ValueError(f"ARENA_BACKEND must be one of {', '.join(BACKENDS)}; got {backend!r}")
        stream = VllmBackend(VllmSettings.from_env(environ)).stream_pair if backend == "vllm" else None
        data_dir = Path(environ.get("LEADERBOARD_DATA_DIR") or DEFAULT_DATA_DIR)
        pool = ModelPool(max_adapters=int(environ.get("ARENA_MAX_ADAPTERS") or 8),
                         max_models=int(environ.get("ARENA_MAX_MODELS") or 2), options=LoadOptions.auto())
        demo = Demo.from_env(data_dir, environ) if stream is None else None
        memory = MemoryCheck(pool.options, environ) if stream is None else None
        merges = MergeCache.from_env(environ) if stream is None else None
        return cls(store, pool=pool, demo=demo, vote_rules=rules, salt=configured or None, stream=stream,
                   memory=memory, merges=merges, results=results)

    # --- boards and entries -------------------------------------------------------------------------------
    def boards(self) -> list[tuple[str, str]]:
        """(title, id) of every board the arena offers: the challenges, then the demo when there is one."""
        found = [(c.title, c.id) for c in challenges().values()]
        return found + ([(DEMO_TITLE, DEMO_BOARD)] if self.demo else [])

    def entries(self, board: str) -> list[ArenaEntry]:
        """The board's entries the arena serves here: servable, and fitting in this machine's memory."""
        if board == DEMO_BOARD:
            return self.demo.entries() if self.demo else []
        return [entry for entry in self._servable(board) if self._fit(entry).fits]

    def too_big(self, board: str) -> list[tuple[ArenaEntry, Fit]]:
        """The board's servable entries left out because their model does not fit in memory here."""
        if board == DEMO_BOARD:
            return []
        fits = [(entry, self._fit(entry)) for entry in self._servable(board)]
        return [(entry, fit) for entry, fit in fits if not fit.fits]

    def _servable(self, board: str) -> list[ArenaEntry]:
        return servable_entries(self.results(board), board, self.merges.root if self.merges else None)

    def _fit(self, *entries: ArenaEntry) -> Fit:
        if self.memory is None:
            return Fit(True, None, None, "memory")
        return self.memory.fit((entry.side.model for entry in entries),
                               {entry.side.model: entry.params for entry in entries})

    def default_board(self) -> str:
        """The first challenge with two servable entries, else the demo, else the first challenge."""
        boards = [board for _, board in self.boards()]
        for board in boards:
            if board != DEMO_BOARD and len(self.entries(board)) >= 2:
                return board
        return DEMO_BOARD if self.demo else boards[0]

    def opening_board(self) -> str:
        """The board the Compare and Arena tabs open on: the one with the most stored votes (a tie goes to the
        board listed first), so the votes are in view after a restart; without votes, :meth:`default_board`."""
        counts = Counter(record.get("board") for record in self._votes()[1])
        voted = [board for _, board in self.boards() if counts[board]]
        return max(voted, key=lambda board: counts[board]) if voted else self.default_board()

    def entry_choices(self, board: str) -> list[tuple[str, str]]:
        return [(f"#{e.rank} · {e.label}", e.id) for e in self.entries(board)]

    def board_note(self, board: str) -> str:
        """What the visitor should know about a board before chatting (empty when nothing)."""
        if board == DEMO_BOARD and self.demo is not None:
            if self.demo.unavailable:
                return f"⚠️ The offline demo is not available here. {self.demo.unavailable}"
            if not self.demo.ready:
                return ("The demo models are built on the first message (about a minute and a half on 2 CPU cores, "
                        "once).")
            return ""
        count, too_big = len(self.entries(board)), self.too_big(board)
        memory = (f"{len(too_big)} more {'is' if len(too_big) == 1 else 'are'} left out: "
                  f"{too_big[0][1].message(too_big[0][0].label)}" if too_big else "")
        if count < 2:
            return (f"This board has {count} entr{'y' if count == 1 else 'ies'} the arena can serve (verified "
                    f"results pinned to a commit). {memory + ' ' if memory else ''}Pick another board"
                    + (" or the demo." if self.demo else "."))
        return f"ℹ️ {memory}" if memory else ""

    def new_battle(self, board: str, a_id: str | None, b_id: str | None, anonymous: bool,
                   rng: random.Random | None = None) -> Battle:
        entries = self.entries(board)
        if board == DEMO_BOARD and self.demo and self.demo.unavailable:
            raise ArenaError(f"The offline demo is not available here. {self.demo.unavailable}")
        if len(entries) < 2:
            raise ArenaError(self.board_note(board) or "This board has fewer than two entries to compare.")
        if anonymous:
            a, b = random_pair(entries, rng or random.Random())
            self._check_pair_fits(board, a, b)
            return Battle(board, a, b, anonymous=True)
        by_id = {e.id: e for e in entries}
        top = default_pair(entries)
        a, b = by_id.get(a_id or "", top[0]), by_id.get(b_id or "", top[1])
        if a.id == b.id:
            raise ArenaError("Pick two different entries.")
        self._check_pair_fits(board, a, b)
        return Battle(board, a, b, anonymous=False)

    def _check_pair_fits(self, board: str, a: ArenaEntry, b: ArenaEntry) -> None:
        """Each entry fits (or it would not be offered); two full models side by side may not."""
        fit = self._fit(a, b) if board != DEMO_BOARD else Fit(True, None, None, "memory")
        if not fit.fits:
            raise ArenaError(fit.message("This pair (two full models side by side)"))

    # --- answering ----------------------------------------------------------------------------------------
    def stop_event(self, session: str) -> threading.Event:
        event = threading.Event()
        self._stops[session] = event
        return event

    def stop(self, session: str) -> None:
        event = self._stops.get(session)
        if event is not None:
            event.set()

    def answer(self, battle: Battle, message: str, temperature: float | None, max_new_tokens: float | None, *,
               voter: str, stop: threading.Event | None = None) -> Iterator[Frame]:
        """Both answers to ``message``, streamed: a frame per increment, then the finished battle."""
        try:
            if battle.outcome is not None:
                raise ArenaError("You have voted on this conversation. Press Clear to start a new one.")
            text = check_message(message, len(battle.turns), self.limits)
            self.rate.check(voter)
        except LimitError as error:
            yield Frame(battle, f"⚠️ {error}", warning=True)
            return
        yield from self._prepare_demo(battle)
        if battle.board == DEMO_BOARD and self.demo and (self.demo.error or not self.demo.ready):
            yield Frame(battle, f"⚠️ {self.demo.error or 'The demo is not ready.'}", warning=True)
            return
        if not (yield from self._prepare_merges(battle)):
            return
        sampling = clamp_sampling(temperature, max_new_tokens, self.limits)
        answers = {"a": "", "b": ""}
        current = replace(battle, answering=True, turns=battle.turns + ((text, "", ""),))
        yield Frame(current, "Answering…")
        status, warning = "", False
        try:
            for side, increment in self.stream(battle.a.side, battle.b.side, text, battle.turns, sampling,
                                               limits=self.limits, stop=stop):
                answers[side] += increment
                current = replace(current, turns=battle.turns + ((text, answers["a"], answers["b"]),))
                yield Frame(current, "Answering…")
        except LimitError as error:
            status, warning = f"⚠️ {error}", True
        except LoadError as error:
            status, warning = f"⚠️ A model could not be loaded: {error}", True
        except ServerError as error:
            log.warning("arena: the generation server: %s", error)
            status, warning = f"⚠️ {error}", True
        except Exception as error:  # noqa: BLE001 - the visitor sees a message, the log the trace
            log.exception("arena answer failed")
            status, warning = f"⚠️ Answering failed: {type(error).__name__}: {error}", True
        if warning and not (answers["a"] or answers["b"]):
            yield Frame(battle, status, warning=True)
            return
        if not warning:
            if stop is not None and stop.is_set():
                status = "Stopped. You can vote on what was written, regenerate, or go on."
            else:
                status = "Vote when you are ready, or send another message."
        yield Frame(replace(current, answering=False), status, warning)

    def regenerate(self, battle: Battle, temperature, max_new_tokens, *, voter: str,
                   stop: threading.Event | None = None) -> Iterator[Frame]:
        """Answer the last message again (the earlier answers of that turn are dropped)."""
        if not battle.turns:
            yield Frame(battle, "⚠️ Nothing to regenerate yet: send a message first.", warning=True)
            return
        last = battle.turns[-1][0]
        yield from self.answer(replace(battle, turns=battle.turns[:-1]), last, temperature, max_new_tokens,
                               voter=voter, stop=stop)

    def _prepare_demo(self, battle: Battle) -> Iterator[Frame]:
        if battle.board != DEMO_BOARD or self.demo is None or self.demo.ready:
            return
        try:
            self.demo.start()
        except DemoUnavailable as error:
            yield Frame(battle, f"⚠️ {error}", warning=True)
            return
        while not self.demo.wait(0.5):
            yield Frame(battle, f"Preparing the demo (first use only): {self.demo.status}")

    def _prepare_merges(self, battle: Battle) -> Iterator[Frame]:
        """Redo each recipe entry's merge on its first use, with a status line meanwhile; returns whether both
        sides can be served (a refusal is the last frame)."""
        for name, entry in (("Model A", battle.a), ("Model B", battle.b)):
            if entry.recipe is None or self.merges is None:
                continue
            try:
                for step in self.merges.prepare(entry.recipe):
                    yield Frame(battle, f"Merging {name} from its recipe (first use only): {step}…")
            except MergeUnavailable as error:
                yield Frame(battle, f"⚠️ {name}: {error}", warning=True)
                return False
        return True

    # --- votes and the board ------------------------------------------------------------------------------
    @staticmethod
    def rate_key(account: str | None, session: str | None) -> str:
        """Who sends messages, for the in-memory rate limit (never stored, so it needs no salt)."""
        return f"account:{account}" if account else f"session:{session}"

    def voter(self, account: str | None, session: str | None) -> str:
        """The salted voter id stored with a vote."""
        return voter_id(account, session, self._voter_salt())

    def _voter_salt(self) -> str:
        with self._salt_lock:
            if self._salt is None:
                try:
                    self._salt = voter_salt(self.store, "", on_space=self.vote_rules.sign_in_required)
                except StoreError as error:
                    log.warning("arena: the voter salt could not be read: %s", error)
                    raise VoteRefused("The vote store did not answer; nothing was recorded. Try again in a "
                                      "minute.") from error
                except SaltUnavailable as error:
                    log.error("%s", error)
                    raise VoteRefused("Votes cannot be recorded on this Space right now (the log tells its "
                                      "operator why); nothing was recorded.") from error
            return self._salt

    def vote(self, battle: Battle | None, outcome: str, *, voter: str) -> tuple[Battle | None, str]:
        """Record the vote; returns the battle (names revealed) and the message for the visitor."""
        check_voter(voter, self.vote_rules)
        if battle is None or not battle.turns:
            raise VoteRefused("Send a message and wait for both answers before voting.")
        if battle.answering:
            raise VoteRefused("Wait for both answers (or press Stop) before voting.")
        if battle.outcome is not None:
            raise VoteRefused("You already voted on this conversation. Press Clear to start a new one.")
        record = make_vote(board=battle.board, conversation_id=battle.conversation_id, a=battle.a.describe(),
                           b=battle.b.describe(), outcome=outcome,
                           conversation=[{"user": u, "a": a, "b": b} for u, a, b in battle.turns],
                           voter=voter, anonymous=battle.anonymous)
        result = record_vote(self.store, record, self.vote_rules)
        with self._votes_lock:  # this replica shows its own vote at once
            self._votes_read = None
        done = replace(battle, outcome=result.vote["outcome"])
        reveal = f"Model A was **{battle.a.label}**, Model B was **{battle.b.label}**. " if battle.anonymous else ""
        if result.duplicate:
            return done, f"{reveal}This battle was already voted on; the earlier vote stands (counted once)."
        rated = ("" if battle.anonymous else
                 "You picked this pair, so the vote is kept but not rated: only random anonymous pairs move the "
                 "ratings. ")
        return done, (f"Thanks, your vote ({OUTCOME_WORDS[outcome]}) is recorded. {reveal}{rated}"
                      "Press Clear for a new round.")

    def board_frame(self, board: str) -> ArenaBoard:
        """The arena board of ``board`` (refitted only when the votes read changed)."""
        version, votes = self._votes()
        cached = self._board_cache.get(board)
        if cached is None or cached[0] != version:
            cached = (version, arena_board(votes, board, self.vote_rules))
            self._board_cache[board] = cached
        return cached[1]

    def _votes(self) -> tuple[str, list[Record]]:
        """(version, every vote), asked of the store at most every ``votes_recheck_s`` seconds and read again
        only when they changed: at 200 votes a minute the version moves with nearly every request, and reading
        and refitting 100k votes for each visitor would make the ratings the slowest page of the Space."""
        with self._votes_lock:
            read = self._votes_read
            if read is None or time.monotonic() - read[0] >= self.votes_recheck_s:
                version = self.store.version("votes")
                votes = read[2] if read is not None and read[1] == version else self.store.all("votes")
                read = self._votes_read = (time.monotonic(), version, votes)
            return read[1], read[2]
