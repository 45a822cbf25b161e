"""What decides a score besides the model: package versions, device, precision; and what it cost."""

from __future__ import annotations

import resource
from importlib.metadata import PackageNotFoundError, version

import torch

from evaluator.precision import describe
from models.loading import LoadOptions

PACKAGES = ("torch", "transformers", "peft", "lm_eval", "datasets", "huggingface_hub", "bitsandbytes")


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def environment_facts(options: LoadOptions) -> dict:
    """Versions, device and the precision the models were actually loaded with (``options``)."""
    device = torch.cuda.get_device_name(0) if options.device.startswith("cuda") else "cpu"
    return {"versions": package_versions(), "device": device, **describe(options)}


def reset_peak_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mb() -> float:
    """Peak GPU memory on CUDA, else the process's peak resident memory."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
