"""The NeurIPS 2024 LLM Merging starter kit's examples as recipes the Submit form offers.

The starter kit's ``LlamaAvg`` merges two LoRA adapters of Llama-2-7B with weights 0.8 / 0.2 and
``TinyLlamaAvg`` averages two TinyLlama checkpoints; the repos and commits below are the ones the kit pins.
(``LlamaAvg`` scaled the adapters' A and B matrices each by the weight, so its products carried 0.64 / 0.04;
the recipe weights the adapters' deltas 0.8 / 0.2, as mergekit's ``linear`` does.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """A recipe with ``{placeholders}`` for its components, and the starter kit's pinned defaults."""

    key: str
    title: str
    text: str
    defaults: dict[str, str]

    def render(self, **references: str) -> str:
        """The recipe with the given references (``owner/name@<commit>``), the kit's for the rest."""
        unknown = set(references) - set(self.defaults)
        if unknown:
            raise KeyError(f"Template '{self.key}' has no placeholder {', '.join(sorted(unknown))}")
        return self.text.format(**{**self.defaults, **references})


TWO_LORAS = Template(
    key="two_loras",
    title="Two LoRA adapters on one base, weights 0.8 / 0.2 (starter kit, LlamaAvg)",
    text="""\
# W + 0.8 * delta(first adapter) + 0.2 * delta(second adapter); each delta = B @ A * lora_alpha / r
merge_method: linear
models:
  - model: {base}+{first_lora}
    parameters:
      weight: 0.8
  - model: {base}+{second_lora}
    parameters:
      weight: 0.2
dtype: float16
""",
    defaults={
        "base": "meta-llama/Llama-2-7b-hf@01c7f73d771dfac7d292323805ebc428287df4f9",
        "first_lora": "abcdabcd987/gsm8k-llama2-7b-lora-16@636b5eb8da724edae406ba69ef90fd06478e6df7",
        "second_lora": "FinGPT/fingpt-forecaster_dow30_llama2-7b_lora@69f77190315afdb03a889d89bf2a0f932b311617",
    },
)

TWO_MODEL_AVERAGE = Template(
    key="two_model_average",
    title="Average of two models (starter kit, TinyLlamaAvg)",
    text="""\
# (first + second) / 2, tensor by tensor
merge_method: linear
models:
  - model: {first}
    parameters:
      weight: 0.5
  - model: {second}
    parameters:
      weight: 0.5
dtype: float16
""",
    defaults={
        "first": "TinyLlama/TinyLlama_v1.1@f67f7cf6a907e567552b946699a9b9b45394fc46",
        "second": "TinyLlama/TinyLlama_v1.1_math_code@36978c95f61ba8078250f04d71b5404fa9733614",
    },
)

TEMPLATES = {template.key: template for template in (TWO_LORAS, TWO_MODEL_AVERAGE)}
