"""The one model loader shared by the evaluator and the arena.

A :class:`ModelPool` keeps each model (a base for PEFT adapters, or a full merged model) in memory once per
(repo, commit), attaches PEFT adapters to it by name with ``load_adapter`` and switches between them without
reloading the base. It bounds what it keeps: at most ``max_adapters`` adapters per model (least recently used
evicted with ``delete_adapter``) and at most ``max_models`` idle models.

Everything that touches a model happens inside ``with pool.use(model_ref, adapters) as lease:``. The lease
holds that model's lock, so a concurrent request can neither evict the adapters in use nor load a new one
into the model mid-forward; other models stay usable meanwhile. Serving one model from one request at a time
is also what keeps a GPU from being oversubscribed.

How weights are loaded is a :class:`LoadOptions`: the evaluator derives it from the challenge's official
precision (:mod:`evaluator.precision`) and passes it to each ``use``; the arena, which is not scored, uses the
pool's default (:meth:`LoadOptions.auto`). A model loaded under other options is reloaded, never reused.
``trust_remote_code`` is never enabled, and Hub repos must be pinned to a commit sha, because a score or a
vote has to refer to exactly one set of weights.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

BASE_ADAPTER = "__base__"  # peft's name for "no adapter" in a mixed batch
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class LoadError(RuntimeError):
    """A model or adapter could not be loaded; the message says why in words."""


class AdapterKeysError(LoadError):
    """The adapter's weights do not fit the model: some keys were missing or unexpected (a silent no-op
    adapter otherwise)."""

    def __init__(self, ref: "ModelRef", missing: Sequence[str], unexpected: Sequence[str]):
        self.missing_keys = list(missing)
        self.unexpected_keys = list(unexpected)
        parts = []
        if self.missing_keys:
            parts.append(f"{len(self.missing_keys)} missing key(s), e.g. {self.missing_keys[:3]}")
        if self.unexpected_keys:
            parts.append(f"{len(self.unexpected_keys)} unexpected key(s), e.g. {self.unexpected_keys[:3]}")
        super().__init__(f"adapter {ref} does not match its base model: " + "; ".join(parts))


@dataclass(frozen=True)
class ModelRef:
    """A Hub repo id pinned to a commit, or a local directory (revision None)."""

    repo: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.repo}@{self.revision[:12]}" if self.revision else self.repo

    @property
    def is_local(self) -> bool:
        return Path(self.repo).is_dir()

    def check_pinned(self) -> None:
        if self.is_local:
            return
        if not self.revision or not _COMMIT.match(self.revision):
            raise LoadError(f"{self.repo}: pin a commit sha (40 hex characters), got revision {self.revision!r}")

    def hub_kwargs(self) -> dict[str, Any]:
        return {} if self.is_local else {"revision": self.revision}

    @property
    def adapter_name(self) -> str:
        """A peft adapter name for this ref (peft names are module keys: no dots or slashes)."""
        digest = hashlib.sha1(f"{self.repo}@{self.revision}".encode()).hexdigest()[:16]
        return f"adapter_{digest}"


@dataclass(frozen=True)
class LoadOptions:
    """How weights are placed: device, dtype, 4-bit quantization and the pad token.

    ``quant_type`` and ``compute_dtype`` (None: ``dtype``) apply with ``load_in_4bit``. ``pad_token``: ``"eos"``
    uses EOS when the tokenizer has no pad token; ``"add"`` adds ``[PAD]`` when it has none or it equals EOS
    and resizes the embeddings (the official Finance script)."""

    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    load_in_4bit: bool = False
    quant_type: str = "fp4"
    compute_dtype: torch.dtype | None = None
    pad_token: str = "eos"

    @classmethod
    def auto(cls, cpu_dtype: torch.dtype = torch.float32) -> "LoadOptions":
        """For unscored use (the arena): 4-bit with bf16 compute on CUDA when bitsandbytes is installed, bf16
        on CUDA without it, ``cpu_dtype`` on CPU."""
        if torch.cuda.is_available():
            return cls("cuda", torch.bfloat16, importlib.util.find_spec("bitsandbytes") is not None)
        return cls("cpu", cpu_dtype, False)

    def from_pretrained_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"dtype": self.dtype, "trust_remote_code": False}
        if self.load_in_4bit:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type=self.quant_type,
                bnb_4bit_compute_dtype=self.compute_dtype or self.dtype,
            )
        if self.device != "cpu":
            kwargs["device_map"] = {"": self.device}
        return kwargs


@dataclass
class Lease:
    """What a caller gets inside ``pool.use``: the model (a ``PeftModel`` once it has adapters), its
    tokenizer, and the peft adapter name for each requested adapter, in request order (``"__base__"`` for
    None). The first requested adapter is the active one, so a single-adapter lease can be handed to code
    that knows nothing of adapters (lm-eval's ``HFLM(pretrained=lease.model)``); with no adapter requested,
    attached adapters are disabled for the duration of the lease."""

    ref: ModelRef
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    adapter_names: list[str]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


@dataclass
class _Entry:
    ref: ModelRef
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    model: Any = None  # the transformers model, wrapped in a PeftModel once an adapter is attached
    tokenizer: Any = None
    options: LoadOptions | None = None  # what ``model`` was loaded with
    adapters: "OrderedDict[str, ModelRef]" = field(default_factory=OrderedDict)  # LRU order, oldest first
    resident: tuple[ModelRef, ...] = ()  # a copy of ``adapters`` that readers without the lock may take


class ModelPool:
    """Models in memory, once each, with their adapters attached by name. Thread-safe."""

    def __init__(
        self,
        *,
        max_adapters: int = 8,
        max_models: int = 2,
        options: LoadOptions | None = None,
        token: str | None = None,
        cache_dir: str | None = None,
    ):
        if max_adapters < 1 or max_models < 1:
            raise ValueError("max_adapters and max_models must be at least 1")
        self.max_adapters = max_adapters
        self.max_models = max_models
        self.options = options or LoadOptions.auto()
        self._hub = {k: v for k, v in {"token": token, "cache_dir": cache_dir}.items() if v is not None}
        self._lock = threading.Lock()
        self._entries: OrderedDict[ModelRef, _Entry] = OrderedDict()  # LRU order, oldest first
        self.loads: dict[ModelRef, int] = {}  # how many times each model was read from disk or Hub

    @contextmanager
    def use(self, ref: ModelRef, adapters: Sequence[ModelRef | None] = (),
            options: LoadOptions | None = None) -> Iterator[Lease]:
        """Hold ``ref`` (loaded with ``options``, default the pool's, if needed) with ``adapters`` attached, for
        the duration of the block."""
        options = options or self.options
        wanted = [a for a in dict.fromkeys(adapters) if a is not None]
        if len(wanted) > self.max_adapters:
            raise LoadError(f"{len(wanted)} adapters requested at once; this pool holds at most {self.max_adapters}")
        for item in [ref, *wanted]:
            item.check_pinned()
        entry = self._checkout(ref)
        try:
            with entry.lock:
                if entry.model is not None and entry.options != options:  # loaded another way: load anew
                    entry.model = entry.tokenizer = None
                    entry.adapters.clear()
                    entry.resident = ()
                if entry.model is None:
                    entry.model, entry.tokenizer = self._load(ref, options)
                    entry.options = options
                # resident ones first, so that loading the others never evicts an adapter this call needs
                try:
                    for adapter in sorted(wanted, key=lambda a: a.adapter_name not in entry.adapters):
                        self._attach(entry, adapter)
                finally:
                    entry.resident = tuple(entry.adapters.values())
                names = [a.adapter_name if a is not None else BASE_ADAPTER for a in adapters]
                lease = Lease(ref, entry.model, entry.tokenizer, names)
                if not wanted and entry.adapters:
                    with entry.model.disable_adapter():  # the bare base, adapters stay attached
                        yield lease
                else:
                    if wanted:
                        entry.model.set_adapter(wanted[0].adapter_name, inference_mode=True)
                    yield lease
        finally:
            self._checkin(entry)

    def loaded(self) -> dict[ModelRef, list[ModelRef]]:
        """Models in memory and their adapters (least recently used first)."""
        with self._lock:
            return {ref: list(e.resident) for ref, e in self._entries.items() if e.model is not None}

    def release_idle(self) -> None:
        """Drop every model no lease is using and return its memory (room for a retry after out-of-memory)."""
        with self._lock:
            self._evict_models(keep=0)

    def _checkout(self, ref: ModelRef) -> _Entry:
        with self._lock:
            entry = self._entries.get(ref) or _Entry(ref)
            self._entries[ref] = entry
            self._entries.move_to_end(ref)
            entry.users += 1
            self._evict_models(keep=self.max_models - (entry.model is None))
            return entry

    def _checkin(self, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            if entry.model is None and entry.users == 0:  # its load failed
                self._entries.pop(entry.ref, None)
            self._evict_models(keep=self.max_models)

    def _evict_models(self, keep: int) -> None:
        """Drop idle models, least recently used first, until at most ``keep`` are loaded (caller holds
        the pool lock). Models in use are never dropped, so the bound can be exceeded while they run."""
        idle = [e for e in self._entries.values() if e.users == 0]
        excess = sum(e.model is not None for e in self._entries.values()) - keep
        for entry in idle[: max(excess, 0)]:
            del self._entries[entry.ref]
            entry.model = entry.tokenizer = None
        if excess > 0:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _load(self, ref: ModelRef, options: LoadOptions) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                ref.repo, trust_remote_code=False, **ref.hub_kwargs(), **self._hub
            )
            model = AutoModelForCausalLM.from_pretrained(
                ref.repo, **ref.hub_kwargs(), **self._hub, **options.from_pretrained_kwargs()
            )
        except (OSError, ValueError) as error:
            raise LoadError(f"could not load model {ref}: {error}") from error
        if options.pad_token == "add" and (tokenizer.pad_token is None
                                           or tokenizer.pad_token_id == tokenizer.eos_token_id):
            tokenizer.add_special_tokens({"pad_token": "[PAD]"})
            model.resize_token_embeddings(len(tokenizer))
        elif tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.eval()
        self.loads[ref] = self.loads.get(ref, 0) + 1
        return model, tokenizer

    def _attach(self, entry: _Entry, adapter: ModelRef) -> None:
        """Make ``adapter`` resident on the entry's model (caller holds the entry lock)."""
        name = adapter.adapter_name
        if name in entry.adapters:
            entry.adapters.move_to_end(name)
            return
        while len(entry.adapters) >= self.max_adapters:
            oldest, _ = entry.adapters.popitem(last=False)
            entry.model.delete_adapter(oldest)
        kwargs = {**adapter.hub_kwargs(), **self._hub}
        try:
            if not _is_peft(entry.model):
                from peft import PeftConfig, get_peft_model

                config = PeftConfig.from_pretrained(adapter.repo, **kwargs)
                config.inference_mode = True
                # wraps the base in place: the PeftModel shares every base weight, nothing is copied
                entry.model = get_peft_model(entry.model, config, adapter_name=name)
            result = entry.model.load_adapter(adapter.repo, adapter_name=name, **kwargs)
        except Exception as error:
            self._forget_adapter(entry, name)
            raise LoadError(f"could not load adapter {adapter} on {entry.ref}: {error}") from error
        if result.missing_keys or result.unexpected_keys:
            self._forget_adapter(entry, name)
            raise AdapterKeysError(adapter, result.missing_keys, result.unexpected_keys)
        entry.adapters[name] = adapter

    @staticmethod
    def _forget_adapter(entry: _Entry, name: str) -> None:
        if _is_peft(entry.model) and name in entry.model.peft_config:
            entry.model.delete_adapter(name)
        entry.adapters.pop(name, None)
        if _is_peft(entry.model) and not entry.model.peft_config:
            entry.model = entry.model.unload()  # a PeftModel without adapters cannot run; keep the bare base


def _is_peft(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def adapter_effect(pool: ModelPool, base: ModelRef, adapter: ModelRef, probe: str = "The answer is:",
                   options: LoadOptions | None = None) -> float:
    """The largest absolute change the adapter makes to the next-token logits of a probe prompt.

    0.0 means it changes nothing: a silent failure seen in the field (e.g. a LoRA saved before training, whose
    B matrices are still zero), which the evaluator reports as "adapter had no effect" instead of scoring the
    bare base model under the adapter's name.
    """

    def logits(lease: Lease) -> torch.Tensor:
        ids = lease.tokenizer(probe, return_tensors="pt").input_ids.to(lease.device)
        with torch.inference_mode():
            return lease.model(input_ids=ids).logits[0, -1].float()

    # both through the peft wrapper: on a 4-bit base, wrapping alone moves the logits a little (bitsandbytes'
    # CPU backend), which would hide an adapter that changes nothing
    with pool.use(base, [adapter], options=options) as lease:
        tuned = logits(lease)
        with lease.model.disable_adapter():
            bare = logits(lease)
    return float((tuned - bare).abs().max())
