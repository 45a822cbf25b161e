"""Whether a model fits in this machine's memory, asked before the arena loads it.

A 7B base in fp32 on a CPU Space (~28 GB) would take the Space down on the first message; the arena instead
leaves out what does not fit and says how much it needs and how much there is. The need is the parameter
count (a merging result's ``params_total``, else the Hub's safetensors totals, else the safetensors headers;
local folders: their headers) times the
bytes per parameter at the arena's precision, plus :data:`HEADROOM` for activations, the KV cache and the
adapters. What there is: ``ARENA_MEMORY_GB`` when set, else free GPU memory on CUDA, else the RAM available
to this process (``/proc/meminfo``, capped by its cgroup's limit), measured once, before the arena loads
anything. A model whose size cannot be told is not refused (the log says so).
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    HfHubHTTPError,
    NotASafetensorsRepoError,
    SafetensorsParsingError,
)

from models.loading import LoadOptions, ModelRef
from uikit.settings import positive_number

log = logging.getLogger(__name__)
GB = 1e9
HEADROOM = 1.2
QUANTIZED_BYTES = 0.5  # 4-bit weights


@dataclass(frozen=True)
class Fit:
    """The verdict on a set of models: ``need``/``have`` in bytes (None: unknown, not refused)."""

    fits: bool
    need: float | None
    have: float | None
    where: str  # what ``have`` measures

    def message(self, what: str) -> str:
        return (f"{what} needs about {_gb(self.need)} GB of {self.where} at the arena's precision, and this "
                f"machine has {_gb(self.have)} GB: it is not served here.")


def _gb(size: float) -> str:
    gb = size / GB
    return f"{gb:.0f}" if gb >= 10 else f"{gb:.1f}" if gb >= 0.1 else f"{gb:.2g}"


def bytes_per_parameter(options: LoadOptions) -> float:
    return QUANTIZED_BYTES if options.load_in_4bit else float(options.dtype.itemsize)


def configured_memory(environ: Mapping[str, str] = os.environ) -> float | None:
    """``ARENA_MEMORY_GB`` in bytes (None when unset); ValueError naming the variable when it is not a number."""
    gigabytes = positive_number(environ, "ARENA_MEMORY_GB", "gigabytes")
    return None if gigabytes is None else gigabytes * GB


def available_memory(options: LoadOptions) -> tuple[float | None, str]:
    """(bytes, what they measure): free GPU memory on CUDA, else available RAM; None if unknown."""
    if options.device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(options.device))
        return float(free), "GPU memory"
    return _available_ram(), "RAM"


def _available_ram() -> float | None:
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    if "MemAvailable" not in fields:
        return None
    available = float(fields["MemAvailable"].split()[0]) * 1024
    for limit_file, usage_file in (("memory.max", "memory.current"),  # cgroup v2, then v1
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = Path("/sys/fs/cgroup", limit_file).read_text().strip()
            usage = Path("/sys/fs/cgroup", usage_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and usage.isdigit():
            available = min(available, float(int(limit) - int(usage)))
        break
    return available


def local_parameter_count(folder: Path) -> int | None:
    """Parameters in a local model folder's safetensors files (read from their headers); None without any."""
    total, found = 0, False
    for path in sorted(folder.glob("*.safetensors")):
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for name, tensor in header.items():
            if name != "__metadata__":
                total += math.prod(tensor["shape"])
        found = True
    return total if found else None


def hub_parameter_count(ref: ModelRef) -> int | None:
    """Parameters of a Hub model at its pinned commit, from the Hub's safetensors totals or headers."""
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    try:
        info = api.model_info(ref.repo, revision=ref.revision, files_metadata=False)
        if info.safetensors and info.safetensors.total:
            return int(info.safetensors.total)
        metadata = api.get_safetensors_metadata(ref.repo, revision=ref.revision)
        return sum(metadata.parameter_count.values())
    except (NotASafetensorsRepoError, SafetensorsParsingError, HfHubHTTPError, OSError) as error:
        log.warning("arena: the size of %s cannot be told (%s); it is not refused", ref, error)
        return None


def parameter_count(ref: ModelRef) -> int | None:
    """From the headers of a local folder (None for one not built yet: a recipe entry before its merge), else
    from the Hub."""
    return local_parameter_count(Path(ref.repo)) if ref.is_local or ref.revision is None else hub_parameter_count(ref)


class MemoryCheck:
    """Tells whether models fit, with counts cached per pinned model and the memory measured once."""

    def __init__(self, options: LoadOptions, environ: Mapping[str, str] = os.environ,
                 count: Callable[[ModelRef], int | None] = parameter_count):
        """ValueError (naming ``ARENA_MEMORY_GB``) for a bad setting."""
        self.options, self._count = options, count
        self._lock = threading.Lock()
        self._counts: dict[ModelRef, int | None] = {}
        configured = configured_memory(environ)
        self._have = None if configured is None else (configured, "memory (ARENA_MEMORY_GB)")

    def fit(self, models: Iterable[ModelRef], known: Mapping[ModelRef, int | None] | None = None) -> Fit:
        """Whether ``models`` (loaded together) fit, with the headroom. ``known``: parameter counts the results
        record (a merging entry's ``params_total``), used instead of counting."""
        known = known or {}
        counts = [known.get(ref) or self._parameters(ref) for ref in dict.fromkeys(models)]
        with self._lock:
            if self._have is None:
                self._have = available_memory(self.options)
            have, where = self._have
        if have is None or any(count is None for count in counts):
            return Fit(True, None, have, where)
        need = sum(counts) * bytes_per_parameter(self.options) * HEADROOM
        return Fit(need <= have, need, have, where)

    def _parameters(self, ref: ModelRef) -> int | None:
        with self._lock:
            if ref in self._counts:
                return self._counts[ref]
        count = self._count(ref)
        with self._lock:
            self._counts[ref] = count
        return count
