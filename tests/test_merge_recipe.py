"""Merge recipes (mergekit YAML): the checks a participant sees, with line numbers; the starter-kit templates;
the components listed for the rule checks; the merged model's size and compatibility from config.json alone."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from merges.recipe import RecipeError, parse_recipe
from merges.references import Component
from merges.templates import TEMPLATES
from submissions.merge_rules import (
    adapter_base_problems,
    compatibility_problems,
    merged_config,
    parameter_cap_problem,
)

A, B, C = "a" * 40, "b" * 40, "c" * 40


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text)
    return caught.value.problems


def test_templates_parse_and_list_their_pinned_components() -> None:
    loras = parse_recipe(TEMPLATES["two_loras"].render())
    assert loras.method == "linear"
    assert [(c.repo, c.kind) for c in loras.components] == [
        ("meta-llama/Llama-2-7b-hf", "model"),
        ("abcdabcd987/gsm8k-llama2-7b-lora-16", "lora"),
        ("FinGPT/fingpt-forecaster_dow30_llama2-7b_lora", "lora"),
    ]
    assert [entry.parameters["weight"] for entry in loras.config.models] == [0.8, 0.2]
    average = parse_recipe(
        TEMPLATES["two_model_average"].render(first=f"o/x@{A}", second=f"o/y@{B}")
    )
    assert average.components == (
        Component("o/x", A, "model"),
        Component("o/y", B, "model"),
    )
    assert average.references == (f"o/x@{A}", f"o/y@{B}")


def test_every_method_required_is_accepted() -> None:
    for method in ("task_arithmetic", "ties", "dare_ties", "dare_linear"):
        recipe = parse_recipe(
            f"merge_method: {method}\nbase_model: o/base@{A}\nmodels:\n"
            f"  - model: o/x@{B}\n    parameters: {{weight: 0.7, density: 0.5}}\n"
            f"  - model: o/y@{C}\n    parameters: {{weight: 0.3, density: 0.5}}\n"
        )
        assert recipe.method == method and len(recipe.components) == 3
    slerp = parse_recipe(
        f"merge_method: slerp\nbase_model: o/x@{A}\nmodels:\n  - model: o/x@{A}\n  - model: o/y@{B}\n"
        "parameters:\n  t: [0, 0.5, 1]\n"
    )
    assert slerp.config.parameters == {"t": [0, 0.5, 1]}


def test_unknown_method_names_the_line_and_the_methods() -> None:
    assert problems(
        f"# my merge\nmerge_method: avg\nmodels:\n  - model: o/x@{A}\n"
    ) == [
        (
            "Line 2: unknown merge method 'avg'. Available: linear, task_arithmetic, ties, dare_ties, "
            "dare_linear, slerp."
        )
    ]


def test_every_problem_is_listed_in_line_order() -> None:
    text = (
        "merge_method: ties\n"  # 1
        "base_model: org/base@main\n"  # 2
        "models:\n"  # 3
        f"  - model: org/a@{A}\n"  # 4
        "    parameters:\n"  # 5
        "      density: 0.5\n"  # 6
        "      weigth: 1\n"  # 7
        "  - model: org/b\n"  # 8
        "    parameters: {weight: lots}\n"  # 9
        "dtype: float8\n"  # 10
        "colour: red\n"  # 11
    )
    assert problems(text) == [
        (
            "Line 2: 'org/base@main' is not pinned to a commit: use the full 40-character commit hash, not a "
            "branch, tag or short hash."
        ),
        (
            f"Line 4: 'ties' needs parameter 'weight' for model 'org/a@{A}' (under its 'parameters', or once "
            "under the top-level 'parameters')."
        ),
        (
            "Line 7: 'ties' has no parameter 'weigth'. It takes: density, int8_mask, lambda, normalize, rescale, "
            "weight."
        ),
        "Line 8: 'org/b' is not pinned: write 'org/b@<commit>' with the full 40-character commit hash.",
        "Line 9: parameter 'weight' must be a number, not 'lots'.",
        "Line 10: dtype must be one of float32, float16, bfloat16.",
        (
            "Line 11: unknown key 'colour'. Recipes accept: merge_method, base_model, models, slices, parameters, "
            "dtype, out_dtype, tokenizer_source."
        ),
    ]


def test_a_weight_given_once_for_all_models_is_enough() -> None:
    recipe = parse_recipe(
        f"merge_method: linear\nmodels:\n  - model: o/x@{A}\n  - model: o/y@{B}\n"
        "parameters:\n  weight: 1.0\n"
    )
    assert recipe.config.parameters == {"weight": 1.0}


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "merge_method: [linear\n",
            "Line 2: not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "merge_method: linear\n  models: 2\n",
            "Line 2: not valid YAML: mapping values are not allowed here",
        ),
        (
            "- linear\n",
            "Line 1: a recipe is a YAML mapping with at least 'merge_method' and 'models'.",
        ),
        (
            f"merge_method: linear\nmodels:\n  - model: /etc/x@{A}\n    parameters: {{weight: 1}}\n",
            "Line 3: '/etc/x' is not a Hub repo ID (owner/name).",
        ),
        (
            f"merge_method: linear\nmodels:\n  - model: o/x@{A[:7]}\n    parameters: {{weight: 1}}\n",
            (
                f"Line 3: 'o/x@{A[:7]}' is not pinned to a commit: use the full 40-character commit hash, not a "
                "branch, tag or short hash."
            ),
        ),
        (
            f"merge_method: linear\nmodels:\n  - model: o/x@{A}\n    parameters: {{weight: 1}}\nmerge_method: linear\n",
            "Line 5: 'merge_method' is given twice.",
        ),
        (
            f"merge_method: slerp\nbase_model: o/x@{A}\nmodels:\n  - model: o/x@{A}\n  - model: o/y@{B}\n",
            "Line 1: 'slerp' needs parameter 't' under 'parameters'.",
        ),
        (
            f"merge_method: ties\nmodels:\n  - model: o/x@{A}\n    parameters: {{weight: 1}}\n",
            "Line 1: 'ties' needs a 'base_model'.",
        ),
        (
            "merge_method: linear\n",
            "Line 1: Exactly one of 'models', 'slices', or 'modules' must be present",
        ),
        (
            f"merge_method: linear\nmodels:\n  - o/x@{A}\n",
            "Line 3: write each model as '- model: owner/name@<40-hex commit>'.",
        ),
        (
            (f"merge_method: slerp\nbase_model: o/x@{A}\nmodels:\n  - model: o/y@{B}\n  - model: o/z@{C}\n"
            "parameters: {t: 0.5}\n"),
            "Line 3: 'slerp' merges at most 2 models (the base included); this recipe names 3.",
        ),
        (  # mergekit's own schema (pydantic), its error placed on the line of the entry
            f"merge_method: linear\nslices:\n  - sources:\n      - model: o/x@{A}\n        parameters: {{weight: 1}}\n",
            "Line 4: slices.0.sources.0.layer_range: Field required",
        ),
        (
            "merge_method: !!python/object:os.system x\n",
            ("Line 1: not valid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'"),
        ),
    ],
)
def test_bad_recipes_say_what_and_where(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_a_tokenizer_source_is_a_component_too() -> None:
    recipe = parse_recipe(
        f"merge_method: linear\nmodels:\n  - model: o/x@{A}\n    parameters: {{weight: 1}}\ntokenizer_source: o/t@{B}\n"
    )
    assert recipe.components[-1] == Component("o/t", B, "model")
    assert recipe.references == (f"o/t@{B}", f"o/x@{A}")


def test_lora_references_list_the_base_and_the_adapter() -> None:
    recipe = parse_recipe(
        f"merge_method: linear\nmodels:\n  - model: o/base@{A}+o/lora@{B.upper()}\n    parameters: {{weight: 1}}\n"
    )
    assert recipe.components == (
        Component("o/base", A, "model"),
        Component("o/lora", B, "lora"),
    )


# --- size and compatibility from config.json alone ------------------------------------------------------------

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "tie_word_embeddings": False,
}
TINY_MISTRAL = {
    **TINY_LLAMA,
    "architectures": ["MistralForCausalLM"],
    "model_type": "mistral",
}
# the published config.json fields of Mistral-7B-v0.1 and Meta-Llama-3-8B
MISTRAL_7B = {
    **TINY_MISTRAL,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
}
LLAMA3_8B = {
    **TINY_LLAMA,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
}


def real_count(config: dict) -> int:
    """Parameters of the model transformers builds from ``config`` (on the meta device: no memory)."""
    fields = {
        k: v for k, v in config.items() if k not in ("architectures", "model_type")
    }
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(
            AutoConfig.for_model(config["model_type"], **fields)
        ).num_parameters()


def two_model_recipe(method: str = "linear") -> tuple[str, Component, Component]:
    text = (
        f"merge_method: {method}\nmodels:\n  - model: o/x@{A}\n    parameters: {{weight: 0.5}}\n"
        f"  - model: o/y@{B}\n    parameters: {{weight: 0.5}}\n"
    )
    return text, Component("o/x", A, "model"), Component("o/y", B, "model")


@pytest.mark.parametrize("config", [TINY_LLAMA, TINY_MISTRAL, MISTRAL_7B, LLAMA3_8B])
def test_merged_size_from_config_equals_the_built_models_count(config: dict) -> None:
    text, x, y = two_model_recipe()
    recipe = parse_recipe(text)
    counted = real_count(merged_config(recipe, {x: config, y: config}))
    problem = parameter_cap_problem(recipe, {x: config, y: config}, cap=8e9)
    if counted <= 8e9:
        assert problem is None
    else:
        assert (
            problem
            == f"The merged model has {counted / 1e9:.2f} B parameters; the limit is 8 B."
        )
    assert counted == real_count(config)


def test_published_sizes() -> None:
    """The counts the model cards publish: Llama-3-8B is 8.03 B, just over a cap of exactly 8e9."""
    assert real_count(MISTRAL_7B) == 7_241_732_096
    assert real_count(LLAMA3_8B) == 8_030_261_248


def test_stacked_slices_count_their_layers_against_the_cap() -> None:
    recipe = parse_recipe(
        "merge_method: linear\nslices:\n"
        + "".join(
            f"  - sources:\n      - model: o/x@{A}\n        layer_range: [0, 24]\n"
            "        parameters: {weight: 1}\n"
            for _ in range(2)
        )
    )
    x = Component("o/x", A, "model")
    merged = merged_config(recipe, {x: MISTRAL_7B})
    assert merged["num_hidden_layers"] == 48
    problem = parameter_cap_problem(recipe, {x: MISTRAL_7B}, cap=8e9)
    assert (
        problem
        == f"The merged model has {real_count(merged) / 1e9:.2f} B parameters; the limit is 8 B."
    )
    assert parameter_cap_problem(recipe, {x: {"model_type": "odd"}}, cap=8e9) == (
        "The size of the merged model cannot be determined: the config.json of 'o/x' does not describe a "
        "standard decoder."
    )


def test_models_of_other_shapes_cannot_be_merged() -> None:
    text, x, y = two_model_recipe()
    recipe = parse_recipe(text)
    assert compatibility_problems(recipe, {x: TINY_LLAMA, y: dict(TINY_LLAMA)}) == []
    assert compatibility_problems(
        recipe, {x: TINY_LLAMA, y: {**TINY_MISTRAL, "hidden_size": 32}}
    ) == [
        (
            "'o/y' cannot be merged with 'o/x': architectures ['MistralForCausalLM'] vs ['LlamaForCausalLM']; "
            "hidden_size 32 vs 64."
        )
    ]


def test_adapters_must_sit_on_the_base_they_were_trained_on() -> None:
    recipe = parse_recipe(
        f"merge_method: linear\nmodels:\n  - model: o/base@{A}+o/lora@{B}\n    parameters: {{weight: 0.5}}\n"
        f"  - model: o/other@{C}+o/lora2@{B}\n    parameters: {{weight: 0.5}}\n"
    )
    lora, lora2 = Component("o/lora", B, "lora"), Component("o/lora2", B, "lora")
    assert adapter_base_problems(
        recipe, {lora: {"base_model_name_or_path": "O/Base"}, lora2: {"base_model_name_or_path": "o/other"}}
    ) == []
    assert adapter_base_problems(
        recipe, {lora: {"base_model_name_or_path": "o/other"}, lora2: {}}
    ) == [
        ("The adapter 'o/lora' is applied to 'o/base', but its adapter_config.json names 'o/other' as its base "
        "model."),
        "The adapter_config.json of 'o/lora2' does not name its base model (base_model_name_or_path).",
    ]
