"""Two-sided answers from a vLLM server that serves many LoRA adapters on one base (``ARENA_BACKEND=vllm``),
for GPU deployments where many adapters are compared; the in-process peft path (:mod:`arena.generation`)
stays the default and the CPU path.

:meth:`VllmBackend.stream_pair` is a drop-in for :func:`arena.generation.stream_pair` (same arguments less
the pool, same ``(side, increment)`` pairs, limits, stop event and time limit). The prompt is rendered here
with the base's own tokenizer (:func:`arena.generation.build_prompt`) and sent to ``/v1/completions``, so
both backends give a model the same text; both sides decode with the same settings, whatever the server's
defaults. Two requests are in flight at once, and their increments are handed out in turn (a, b, a, b) so
a faster side cannot give itself away.

Adapters are pinned to commits, so the server is never handed a repo name (vLLM would fetch its newest
revision): each adapter is a LoRA module named ``ModelRef.adapter_name`` (a hash of repo and commit), loaded
once, on first use, from a directory holding exactly that commit: the adapter's own directory when the
entry names a local one, else a ``snapshot_download`` at the pinned commit into ``ARENA_VLLM_ADAPTER_DIR``
(a volume the server mounts at the same path) or, without it, into this host's Hub cache (a server on the
same host reads it there).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from transformers import AutoTokenizer, GenerationConfig, PreTrainedTokenizerBase

from arena.generation import Side, Turn, build_prompt, stop_token_ids
from arena.limits import Limits, Sampling, TimeLimitReached, check_prompt_tokens
from arena.vllm_client import ServerError, ServerRefused, VllmClient
from models.loading import LoadError, ModelRef

log = logging.getLogger(__name__)
_DONE = object()  # one side's answer is complete
_STOPPED = object()  # the visitor pressed Stop
_CUT = object()  # the time limit ran out
DEFAULT_SAMPLING, DEFAULT_LIMITS = Sampling(), Limits()


@dataclass(frozen=True)
class VllmSettings:
    """Where the server is, which base it runs, where adapters are laid out for it."""

    url: str
    base: ModelRef
    adapter_dir: Path | None = None
    api_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VllmSettings:
        """``ARENA_VLLM_URL``, ``ARENA_VLLM_BASE`` (``repo@commit``), optional ``ARENA_VLLM_ADAPTER_DIR`` and
        ``ARENA_VLLM_API_KEY``; raises ``ValueError`` naming the variable that is missing or wrong."""
        url = (environ.get("ARENA_VLLM_URL") or "").strip()
        if not url.startswith(("http://", "https://")):
            raise ValueError("ARENA_BACKEND=vllm needs ARENA_VLLM_URL, the vLLM server's address "
                             f"(e.g. http://gpu-host:8000), got {url!r}")
        repo, _, revision = (environ.get("ARENA_VLLM_BASE") or "").strip().rpartition("@")
        base = ModelRef(repo, revision or None)
        try:
            if not repo:
                raise LoadError("set it to <repo>@<commit>, the base the server runs "
                                "(vllm serve <repo> --revision <commit>)")
            base.check_pinned()
        except LoadError as error:
            raise ValueError(f"ARENA_VLLM_BASE: {error}") from error
        adapter_dir = (environ.get("ARENA_VLLM_ADAPTER_DIR") or "").strip()
        return cls(url, base, Path(adapter_dir) if adapter_dir else None,
                   (environ.get("ARENA_VLLM_API_KEY") or "").strip() or None)


def decoding_settings(sampling: Sampling, limits: Limits, stop_ids: Sequence[int]) -> dict:
    """The request's sampling fields: the peft path's settings (temperature, top-p, the token cap, the same stop
    tokens), with every other sampler the server might default to from a generation config switched off."""
    return {"max_tokens": min(sampling.max_new_tokens, limits.max_new_tokens), "temperature": sampling.temperature,
            "top_p": sampling.top_p, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0,
            "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop_token_ids": list(stop_ids),
            "skip_special_tokens": True}


class VllmBackend:
    """The arena's answers from one vLLM server; thread-safe, one instance per app."""

    def __init__(self, settings: VllmSettings):
        self.settings = settings
        self.client = VllmClient(settings.url, api_key=settings.api_key)
        self._lock = threading.Lock()  # the tokenizer and adapter loads, one at a time
        self._loaded: set[str] = set()
        self._prompting: tuple[PreTrainedTokenizerBase, list[int]] | None = None

    def stream_pair(self, a: Side, b: Side, message: str, history: Sequence[Turn] = (),
                    sampling: Sampling = DEFAULT_SAMPLING, *, limits: Limits = DEFAULT_LIMITS,
                    stop: threading.Event | None = None) -> Iterator[tuple[str, str]]:
        """Both sides' answers to ``message`` as ``(side, increment)`` pairs, in turn. Setting ``stop`` (or
        closing the iterator) ends both at the next increment; the time limit cuts them and raises
        :class:`TimeLimitReached` at the end. Raises :class:`ServerError` (words for the visitor) when the
        server is down or refuses an adapter, ``LoadError`` when an adapter cannot be downloaded."""
        sides = {"a": a, "b": b}
        for name, side in sides.items():
            self._check_served(name, side)
        tokenizer, stop_ids = self._prompt_kit()
        histories = {"a": [(user, x) for user, x, _ in history], "b": [(user, y) for user, _, y in history]}
        bodies = {}
        for name, side in sides.items():
            prompt, special = build_prompt(tokenizer, histories[name], message)
            check_prompt_tokens(len(tokenizer(prompt, add_special_tokens=special).input_ids), limits)
            bodies[name] = {"prompt": prompt, "add_special_tokens": special,
                            **decoding_settings(sampling, limits, stop_ids)}
        for name, side in sides.items():
            bodies[name]["model"] = self._model_name(name, side)
        yield from self._stream(sides, bodies, limits, stop)

    # --- what the server runs -----------------------------------------------------------------------------
    def _check_served(self, name: str, side: Side) -> None:
        if side.model != self.settings.base:
            raise ServerError(f"Model {name.upper()} runs on {side.model}; the generation server runs "
                              f"{self.settings.base}, so it cannot answer for it here.")

    def _prompt_kit(self) -> tuple[PreTrainedTokenizerBase, list[int]]:
        """The base's tokenizer and stop tokens (as the peft path computes them), loaded once."""
        base = self.settings.base
        with self._lock:
            if self._prompting is None:
                try:
                    tokenizer = AutoTokenizer.from_pretrained(base.repo, trust_remote_code=False, **base.hub_kwargs())
                except (OSError, ValueError) as error:
                    raise LoadError(f"could not load the tokenizer of {base}: {error}") from error
                try:
                    config = GenerationConfig.from_pretrained(base.repo, **base.hub_kwargs())
                except OSError:  # a base without generation_config.json: the tokenizer's EOS only
                    config = GenerationConfig()
                self._prompting = tokenizer, stop_token_ids(tokenizer, SimpleNamespace(generation_config=config))
            return self._prompting

    def _model_name(self, name: str, side: Side) -> str:
        """The request's ``model``: the base's served name (vLLM's default: the repo given to ``vllm serve``),
        or the adapter's LoRA module, loaded on first use. A refusal names the side, not the adapter (the pair
        may be anonymous); the log names the adapter."""
        adapter = side.adapter
        if adapter is None:
            return self.settings.base.repo
        module = adapter.adapter_name
        with self._lock:
            if module not in self._loaded:
                path = self._adapter_path(adapter)
                try:
                    self.client.load_adapter(module, path)
                except ServerRefused as error:
                    log.warning("the vLLM server refused adapter %s from %s: %s", adapter, path, error.server_message)
                    hint = (" (the server was started without VLLM_ALLOW_RUNTIME_LORA_UPDATING=True)"
                            if error.status == 404 and error.server_message == "Not Found" else "")
                    raise ServerError(f"The generation server refused the adapter of Model {name.upper()}: "
                                      f"{error.server_message}{hint}") from error
                self._loaded.add(module)
        return module

    def _adapter_path(self, ref: ModelRef) -> str:
        """A directory holding ``ref`` at its pinned commit, as the server should read it."""
        if ref.is_local:
            return str(Path(ref.repo).resolve())
        from huggingface_hub import snapshot_download

        ref.check_pinned()
        target = self.settings.adapter_dir / ref.adapter_name if self.settings.adapter_dir else None
        try:
            return snapshot_download(ref.repo, revision=ref.revision, local_dir=target,
                                     endpoint=os.environ.get("HF_ENDPOINT") or None)
        except (OSError, ValueError) as error:
            raise LoadError(f"could not download adapter {ref}: {error}") from error

    def _forget(self, side: Side) -> None:
        """The server no longer knows the side's adapter (it was restarted): load it again next time."""
        with self._lock:
            self._loaded.discard(side.adapter.adapter_name)

    # --- two requests in flight ---------------------------------------------------------------------------
    def _stream(self, sides: dict[str, Side], bodies: dict[str, dict], limits: Limits,
                stop: threading.Event | None) -> Iterator[tuple[str, str]]:
        """Run both requests in threads and hand out their increments in turn. The threads end at their next
        increment once this returns (closing the connection aborts the request on the server)."""
        halt = threading.Event()
        queues = {name: queue.Queue() for name in bodies}
        for name, body in bodies.items():
            threading.Thread(target=self._read, args=(name, sides[name], body, queues[name], halt),
                             daemon=True).start()
        deadline = time.monotonic() + limits.max_seconds
        try:
            yield from _in_turn(queues, deadline, stop or halt, limits)
        finally:
            halt.set()

    def _read(self, name: str, side: Side, body: dict, out: queue.Queue, halt: threading.Event) -> None:
        """One side's request, its increments onto ``out``, then ``_DONE`` (or the error, for the consumer).
        An adapter the server lost (HTTP 404 before any text) is loaded again once."""
        try:
            for retry in (False, True):
                sent = False
                try:
                    with closing(self.client.stream(body)) as pieces:
                        for piece in pieces:
                            sent = True
                            out.put(piece)
                            if halt.is_set():
                                break
                    break
                except ServerRefused as error:
                    if retry or sent or error.status != 404 or side.adapter is None:
                        raise
                    self._forget(side)
                    body = {**body, "model": self._model_name(name, side)}
            out.put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed over, raised again by the consumer
            out.put(error)


def _next(items: queue.Queue, deadline: float, stop: threading.Event) -> object:
    """The next item of one side, or ``_STOPPED`` / ``_CUT`` when the visitor or the time limit ends the wait."""
    while True:
        if stop.is_set():
            return _STOPPED
        left = deadline - time.monotonic()
        if left <= 0:
            return _CUT
        try:
            return items.get(timeout=min(left, 0.05))
        except queue.Empty:
            continue


def _in_turn(queues: dict[str, queue.Queue], deadline: float, stop: threading.Event,
             limits: Limits) -> Iterator[tuple[str, str]]:
    """The sides' increments in turn (a, b, a, b, ...); a side leaves the rotation when it is done."""
    active = list(queues)
    while active:
        for side in list(active):
            item = _next(queues[side], deadline, stop)
            if item is _STOPPED:
                return
            if item is _CUT:
                raise TimeLimitReached(f"The answers were cut at the {limits.max_seconds:g} s time limit.")
            if item is _DONE:
                active.remove(side)
            elif isinstance(item, BaseException):
                raise item
            else:
                yield side, item
