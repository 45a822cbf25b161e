"""Merges run by mergekit through ``merges.run`` on tiny Llamas and LoRA adapters built here, checked
against the same arithmetic done by hand with torch (the merging track's recipes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM

from merges.recipe import parse_recipe
from merges.references import Component
from merges.run import MergedModel, localised, run_recipe
from merges.templates import TEMPLATES
from tests.tiny_models import build_lora, build_tiny_llama

NORM = "model.layers.0.input_layernorm.weight"
EMBED = "model.embed_tokens.weight"


def pinned(name: str) -> str:
    return f"test/{name}@{(name.encode().hex() * 40)[:40]}"


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> dict[Component, Path]:
    """Local folders for the components: two base models, two LoRA adapters on the first, and two copies of
    the first whose only change is a known delta on one norm vector (the TIES example)."""
    root = tmp_path_factory.mktemp("components")
    folders = {"base": build_tiny_llama(root / "base", seed=0), "other": build_tiny_llama(root / "other", seed=1)}
    folders["lora_a"] = build_lora(folders["base"], root / "lora_a", seed=2)
    folders["lora_b"] = build_lora(folders["base"], root / "lora_b", seed=3)
    for name, delta in TIES_DELTAS.items():
        folders[name] = shutil.copytree(folders["base"], root / name)
        tensors = load_file(folders[name] / "model.safetensors")
        tensors[NORM][: len(delta)] += torch.tensor(delta)
        save_file(tensors, folders[name] / "model.safetensors", metadata={"format": "pt"})
    kinds = {"lora_a": "lora", "lora_b": "lora"}
    return {
        Component(*pinned(name).split("@"), kinds.get(name, "model")): folder for name, folder in folders.items()
    }


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def folder_of(snapshots: dict[Component, Path], name: str) -> Path:
    return next(path for component, path in snapshots.items() if component.repo == f"test/{name}")


def merge(text: str, snapshots: dict[Component, Path], tmp_path: Path, seed: int = 0) -> MergedModel:
    return run_recipe(parse_recipe(text), snapshots, tmp_path, seed=seed)


def lora_delta(adapter: Path, target: str) -> torch.Tensor:
    """scaling * B @ A of one adapted weight (scaling = lora_alpha / r)."""
    config = json.loads((adapter / "adapter_config.json").read_text())
    tensors = load_file(adapter / "adapter_model.safetensors")
    prefix = "base_model.model." + target.removesuffix(".weight")
    return tensors[f"{prefix}.lora_B.weight"] @ tensors[f"{prefix}.lora_A.weight"] * config["lora_alpha"] / config["r"]


def test_two_lora_template_adds_the_weighted_adapter_deltas(snapshots, tmp_path) -> None:
    text = TEMPLATES["two_loras"].render(
        base=pinned("base"), first_lora=pinned("lora_a"), second_lora=pinned("lora_b")
    )
    merged = weights(merge(text.replace("float16", "float32"), snapshots, tmp_path).path)
    base = weights(folder_of(snapshots, "base"))
    adapted = [name for name in base if name.endswith(("q_proj.weight", "v_proj.weight"))]
    assert len(adapted) == 4 and merged.keys() == base.keys()
    for name, tensor in base.items():
        expected = tensor
        if name in adapted:
            delta_a = lora_delta(folder_of(snapshots, "lora_a"), name)
            delta_b = lora_delta(folder_of(snapshots, "lora_b"), name)
            expected = tensor + 0.8 * delta_a + 0.2 * delta_b
            assert delta_a.abs().mean() > 1  # the adapters really change the weights
        torch.testing.assert_close(merged[name], expected, rtol=1e-5, atol=1e-5)


def test_average_template_merges_in_float16(snapshots, tmp_path) -> None:
    text = TEMPLATES["two_model_average"].render(first=pinned("base"), second=pinned("other"))
    merged = merge(text, snapshots, tmp_path)
    first, second = weights(folder_of(snapshots, "base")), weights(folder_of(snapshots, "other"))
    for name, tensor in weights(merged.path).items():
        assert tensor.dtype == torch.float16
        expected = first[name].half().float() * 0.5 + second[name].half().float() * 0.5
        torch.testing.assert_close(tensor.float(), expected, rtol=2e-3, atol=2e-3)


def test_linear_average_matches_the_hand_average_weights_and_logits(snapshots, tmp_path) -> None:
    text = (
        f"merge_method: linear\nmodels:\n  - model: {pinned('base')}\n  - model: {pinned('other')}\n"
        "parameters:\n  weight: 0.5\ndtype: float32\n"
    )
    merged = merge(text, snapshots, tmp_path)
    first, second = weights(folder_of(snapshots, "base")), weights(folder_of(snapshots, "other"))
    hand = {name: (first[name] + second[name]) / 2 for name in first}
    for name, tensor in weights(merged.path).items():
        torch.testing.assert_close(tensor, hand[name])
    by_hand = LlamaForCausalLM.from_pretrained(folder_of(snapshots, "base")).eval()
    by_hand.load_state_dict(hand)
    by_mergekit = LlamaForCausalLM.from_pretrained(merged.path).eval()
    ids = torch.tensor([[1, 5, 9, 42, 7, 100, 3]])
    with torch.no_grad():
        expected, actual = by_hand(ids).logits, by_mergekit(ids).logits
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(actual, LlamaForCausalLM.from_pretrained(folder_of(snapshots, "base"))(ids).logits)
    assert (merged.path / "tokenizer.json").exists()


# Two task vectors on the first 8 entries of one norm vector. With density 1/16 each keeps its 4 largest
# magnitudes (64 * 0.0625 = 4): 5, -4, 3, -6 and -3, -7, 2, 4. The elected sign per entry is the sign of the
# trimmed sum [5, -7, -4, 2, 0, 4, 0, -6]; entries that agree with it are averaged (weights 1 and 1).
TIES_DELTAS = {
    "ties_1": [5.0, -4.0, 3.0, -2.0, 1.0, -0.5, 0.25, -6.0],
    "ties_2": [-1.0, -3.0, -7.0, 2.0, 0.4, 4.0, -0.1, 1.0],
}
TIES_EXPECTED = [5.0, -3.5, -7.0, 2.0, 0.0, 4.0, 0.0, -6.0]


def test_ties_trims_elects_signs_and_averages_the_agreeing_entries(snapshots, tmp_path) -> None:
    text = (
        f"merge_method: ties\nbase_model: {pinned('base')}\nmodels:\n"
        f"  - model: {pinned('ties_1')}\n  - model: {pinned('ties_2')}\n"
        "parameters:\n  weight: 1.0\n  density: 0.0625\ndtype: float32\n"
    )
    merged = weights(merge(text, snapshots, tmp_path).path)
    base = weights(folder_of(snapshots, "base"))
    expected = base[NORM].clone()
    expected[:8] += torch.tensor(TIES_EXPECTED)
    torch.testing.assert_close(merged[NORM], expected)
    for name in base.keys() - {NORM}:  # no task vector elsewhere: the base stays
        torch.testing.assert_close(merged[name], base[name])


def test_dare_is_reproducible_with_a_seed_and_keeps_the_density_asked(snapshots, tmp_path) -> None:
    text = (
        f"merge_method: dare_linear\nbase_model: {pinned('base')}\nmodels:\n"
        f"  - model: {pinned('other')}\n    parameters: {{weight: 1.0, density: 0.3}}\ndtype: float32\n"
    )
    first = merge(text, snapshots, tmp_path, seed=7)
    again = merge(text, snapshots, tmp_path, seed=7)
    other_seed = merge(text, snapshots, tmp_path, seed=8)
    assert first.weights_sha256 == again.weights_sha256 != other_seed.weights_sha256
    base, other = weights(folder_of(snapshots, "base")), weights(folder_of(snapshots, "other"))
    delta = other[EMBED] - base[EMBED]
    kept = weights(first.path)[EMBED] - base[EMBED]
    mask = kept != 0
    assert abs(mask.float().mean().item() - 0.3) < 0.02  # 25,600 entries: about 7 standard deviations
    # mergekit rescales what is kept so the delta keeps its L1 norm
    rescaled = delta * mask * (delta.abs().sum() / (delta * mask).abs().sum())
    torch.testing.assert_close(kept, rescaled, rtol=1e-4, atol=1e-6)


def test_snapshot_folders_that_mergekit_would_misread_are_refused(snapshots, tmp_path) -> None:
    recipe = parse_recipe(f"merge_method: linear\nmodels:\n  - model: {pinned('base')}\n    parameters: {{weight: 1}}\n")
    odd = {component: tmp_path / "a@b" for component in snapshots}
    with pytest.raises(ValueError, match="must not contain '@' or '\\+'"):
        localised(recipe, odd)
    assert str(localised(recipe, snapshots).models[0].model) == str(folder_of(snapshots, "base").resolve())
