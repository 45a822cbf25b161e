"""A challenge's official precision (``evaluation_precision`` in its definition) as :class:`LoadOptions`.

A worker loads every model as the challenge's official script does, or refuses: when it cannot (bitsandbytes
missing for a 4-bit definition) the request fails with that reason, caused by the evaluator, instead of being
scored at another precision. An operator may force a plain dtype (``EVALUATOR_PRECISION=float32``, e.g. for a
quick CPU run); results made so are marked partial (see ``evaluator.worker.partial_reasons``), never ranked.
4-bit runs on CPU too, through bitsandbytes' CPU backend (0.50: FP4 and NF4 in pure torch).
"""

from __future__ import annotations

import importlib.util

import torch

from challenges.definitions import DTYPES, Precision
from models.loading import LoadError, LoadOptions

OVERRIDE_ENV = "EVALUATOR_PRECISION"
TORCH_DTYPES = {name: getattr(torch, name) for name in DTYPES}


class PrecisionUnavailable(LoadError):
    """This worker cannot load models at the challenge's official precision; the message says why."""


def load_options(precision: Precision, *, override: str | None = None, cuda: bool | None = None) -> LoadOptions:
    """How to load a challenge's models: its official precision, or the dtype ``override`` (no quantization).

    ``cuda`` defaults to whether a GPU is present. Raises :class:`PrecisionUnavailable` when the official
    precision needs a package this worker lacks, ``ValueError`` for an unknown override."""
    device = "cuda" if (torch.cuda.is_available() if cuda is None else cuda) else "cpu"
    if override is not None:
        if override not in TORCH_DTYPES:
            raise ValueError(f"{OVERRIDE_ENV} must be one of {DTYPES}, not {override!r}")
        return LoadOptions(device, TORCH_DTYPES[override], pad_token=precision.pad_token)
    quant = precision.quantization
    if quant is None:
        return LoadOptions(device, TORCH_DTYPES[precision.dtype], pad_token=precision.pad_token)
    if importlib.util.find_spec("bitsandbytes") is None:
        raise PrecisionUnavailable(f"this worker cannot load the challenge's official precision "
                                   f"({precision.describe()}): bitsandbytes is not installed (the operator must "
                                   "install requirements-gpu.txt)")
    return LoadOptions(device, TORCH_DTYPES[precision.dtype], True, quant.type, TORCH_DTYPES[quant.compute_dtype],
                       precision.pad_token)


def describe(options: LoadOptions) -> dict[str, str | None]:
    """The provenance fields of ``options``: dtype, quantization (None when unquantized) and pad token."""
    compute = str(options.compute_dtype or options.dtype).removeprefix("torch.")
    return {
        "dtype": str(options.dtype).removeprefix("torch."),
        "quantization": (f"4-bit {options.quant_type.upper()} (bitsandbytes, {compute} compute)"
                         if options.load_in_4bit else None),
        "pad_token": "[PAD] added when missing or equal to EOS" if options.pad_token == "add" else "EOS when missing",
    }
