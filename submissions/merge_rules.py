"""Rule checks of a merge recipe that need only the components' configuration files (no weights): the
merged model's size against the cap, whether the models can be merged at all, and whether each LoRA adapter
is applied to the model it was trained on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from merges.recipe import Recipe
from merges.references import Component, parse_reference
from submissions.hub_models import estimate_parameters

SHAPE_KEYS = (
    "architectures",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
)


def output_component(recipe: Recipe) -> Component:
    """The model whose architecture the merge produces: the base model, else the first model listed."""
    reference = recipe.config.base_model or _input_references(recipe)[0]
    return parse_reference(str(reference))[0]


def merged_config(recipe: Recipe, configs: Mapping[Component, dict[str, Any]]) -> dict[str, Any]:
    """The merged model's ``config.json`` as mergekit writes it: the output model's, with as many layers
    as the slices stack (a recipe with ``models`` keeps the layer count)."""
    config = dict(configs[output_component(recipe)])
    if recipe.config.slices:
        ranges = (slice_.sources[0].layer_range for slice_ in recipe.config.slices)
        config["num_hidden_layers"] = sum(end - start for start, end in ranges)
    return config


def parameter_cap_problem(
    recipe: Recipe, configs: Mapping[Component, dict[str, Any]], cap: float
) -> str | None:
    """Why the merged model breaks the parameter cap, or cannot be sized; None when it fits."""
    total = estimate_parameters(merged_config(recipe, configs))
    if total is None:
        return (
            f"The size of the merged model cannot be determined: the config.json of "
            f"'{output_component(recipe).repo}' does not describe a standard decoder."
        )
    if total > cap:
        return f"The merged model has {total / 1e9:.2f} B parameters; the limit is {cap / 1e9:g} B."
    return None


def compatibility_problems(recipe: Recipe, configs: Mapping[Component, dict[str, Any]]) -> list[str]:
    """Every full model merged must share the output model's architecture and shapes (and, without
    slices, its layer count); LoRA adapters are checked against their base elsewhere."""
    keys = SHAPE_KEYS if recipe.config.slices else (*SHAPE_KEYS, "num_hidden_layers")
    target = output_component(recipe)
    expected = configs[target]
    problems = []
    for component in recipe.components:
        if component.kind != "model" or component == target:
            continue
        differing = [
            f"{key} {configs[component].get(key)} vs {expected.get(key)}"
            for key in keys
            if configs[component].get(key) != expected.get(key)
        ]
        if differing:
            problems.append(
                f"'{component.repo}' cannot be merged with '{target.repo}': {'; '.join(differing)}."
            )
    return problems


def adapter_base_problems(recipe: Recipe, adapter_configs: Mapping[Component, dict[str, Any]]) -> list[str]:
    """Each ``model+lora`` reference must apply the adapter to the base its ``adapter_config.json`` names
    (``base_model_name_or_path``, compared as the FlowerTune check does: ignoring case)."""
    problems = []
    for reference in recipe.references:
        parts = parse_reference(reference)
        if len(parts) != 2:
            continue
        model, lora = parts
        named = adapter_configs[lora].get("base_model_name_or_path")
        if not isinstance(named, str) or not named.strip():
            problems.append(
                f"The adapter_config.json of '{lora.repo}' does not name its base model (base_model_name_or_path)."
            )
        elif named.strip().lower() != model.repo.lower():
            problems.append(
                f"The adapter '{lora.repo}' is applied to '{model.repo}', but its adapter_config.json names "
                f"'{named}' as its base model."
            )
    return problems


def _input_references(recipe: Recipe) -> list[Any]:
    if recipe.config.models:
        return [entry.model for entry in recipe.config.models]
    return [source.model for slice_ in recipe.config.slices or [] for source in slice_.sources]
