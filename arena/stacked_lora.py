"""Mixed-adapter batches as batched matrix products: each row's LoRA delta in one ``torch.bmm`` per layer.

peft's mixed batch (``adapter_names=[a, b]``) registers a hook on every LoRA layer for each forward pass, and
in each layer loops over the adapters, slicing out each one's rows, running its A and B and adding the result
back: for two rows, about three times the layer's kernels and Python work. Here the attached adapters'
weights are read once per batch and stacked per layer, row by row (A as ``(rows, in, r)``, B with its scaling
folded in as ``(rows, r, out)``; zeros for a row on the bare base or an adapter that does not touch the layer,
ranks zero-padded to the largest), so a layer's delta for the whole batch is two ``bmm`` calls:
``base(x) + bmm(bmm(x, A), B)``. peft stays the loader; this module only reads ``lora_A``/``lora_B``/``scaling``.

Plain LoRA on linear layers at inference is covered (what the arena's adapters are); anything else (DoRA and
other variants, a LoRA bias, embedding or convolution layers, merged weights, dropout in training) makes
:func:`stack_lora` return None and the caller use peft's own path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


class _StackedLayer:
    """Stands in for one LoRA layer's forward while a batch runs."""

    def __init__(self, layer: nn.Module, a: torch.Tensor, b: torch.Tensor):
        self.layer, self.a, self.b = layer, a, b

    def __call__(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        result = self.layer.base_layer(x, *args, **kwargs)
        down = torch.bmm(x.to(self.a.dtype), self.a)
        if result.dtype == self.b.dtype:
            return torch.baddbmm(result, down, self.b)
        return result + torch.bmm(down, self.b).to(result.dtype)


class StackedLora:
    """The LoRA weights of a batch's rows, stacked per layer; :meth:`applied` runs the model with them."""

    def __init__(self, layers: list[_StackedLayer]):
        self.layers = layers

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices into the current batch), as the KV cache does when rows finish."""
        for layer in self.layers:
            layer.a, layer.b = layer.a[rows], layer.b[rows]

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block, the model's LoRA layers add each row's own delta (whatever adapter is active)."""
        for stacked in self.layers:
            stacked.layer.forward = stacked
        try:
            yield
        finally:
            for stacked in self.layers:
                del stacked.layer.forward  # back to the class's forward


def stack_lora(model: nn.Module, adapter_names: Sequence[str]) -> StackedLora | None:
    """The stacked weights for a batch whose row ``i`` uses adapter ``adapter_names[i]`` (peft's names,
    ``"__base__"`` for none), or None when the model has a layer this module does not cover."""
    from peft.tuners.lora import LoraLayer

    layers = []
    for module in model.modules():
        if not isinstance(module, LoraLayer):
            continue
        if not _plain_linear(module, adapter_names):
            return None
        layers.append(_stack(module, adapter_names))
    return StackedLora(layers) if layers else None


def _plain_linear(layer: nn.Module, names: Sequence[str]) -> bool:
    used = [n for n in dict.fromkeys(names) if n in layer.lora_A]
    return (
        not layer.merged_adapters
        and "forward" not in vars(layer)
        and isinstance(layer.base_layer, nn.Linear)
        and not any(layer.lora_variant.get(n) or layer.lora_bias.get(n) for n in used)
        and all(isinstance(layer.lora_A[n], nn.Linear) for n in used)
        and not (layer.training and any(not isinstance(layer.lora_dropout[n], nn.Identity) for n in used))
    )


def _stack(layer: nn.Module, names: Sequence[str]) -> _StackedLayer:
    rank = max((layer.lora_A[n].weight.shape[0] for n in names if n in layer.lora_A), default=0)
    any_a = next(iter(layer.lora_A.values())).weight  # the adapters' dtype and device (the base may be 4-bit)
    like = {"dtype": any_a.dtype, "device": any_a.device}
    a = torch.zeros((len(names), layer.in_features, rank), **like)
    b = torch.zeros((len(names), rank, layer.out_features), **like)
    for row, name in enumerate(names):
        if name in layer.lora_A:
            r = layer.lora_A[name].weight.shape[0]
            a[row, :, :r] = layer.lora_A[name].weight.T
            b[row, :r, :] = layer.lora_B[name].weight.T * layer.scaling[name]
    return _StackedLayer(layer, a, b)
