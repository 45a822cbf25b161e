"""The Merging track's checks on the Hub: a merged model repo, or every component of a merge recipe.

Only metadata and configuration files are read, never weights: a model's size comes from the Hub's
safetensors totals or headers (a merged repo) or from ``config.json`` (a recipe's merged model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from challenges.definitions import Challenge
from merges.recipe import Recipe
from merges.references import Component
from submissions.hub_models import (
    HubCheckError,
    HubModels,
    ResolvedRepo,
    estimate_parameters,
)
from submissions.merge_rules import (
    adapter_base_problems,
    compatibility_problems,
    merged_config,
    parameter_cap_problem,
)


@dataclass
class MergeFacts:
    """What the checks found, for the request record."""

    repo_id: str | None = None
    commit: str | None = None
    params_total: int | None = None
    components: list[dict[str, str]] = field(default_factory=list)


def _cap_words(cap: float) -> str:
    return f"{cap / 1e9:g} B parameters"


def remote_code_problem(model: ResolvedRepo, config: dict[str, Any]) -> str | None:
    """Custom model code is never run: a config with ``auto_map`` or Python files in the repo are refused."""
    code_files = [name for name in model.files if name.endswith(".py")]
    if not config.get("auto_map") and not code_files:
        return None
    found = ", ".join(["auto_map in config.json"] * bool(config.get("auto_map")) + code_files[:3])
    return (f"'{model.repo_id}' relies on custom model code ({found}); models must load with transformers' own "
            "classes (no trust_remote_code): remove the code and auto_map.")


def check_merged_model(hub: HubModels, challenge: Challenge, repo_id: str, revision: str) -> tuple[list[str], MergeFacts]:
    """A public repo, pinned to a commit, with safetensors weights, no custom code, within the size cap."""
    facts = MergeFacts()
    try:
        model = hub.resolve(repo_id, revision)
        facts.repo_id, facts.commit = model.repo_id, model.commit
        config = hub.model_config(model)
    except HubCheckError as error:
        return error.reasons, facts
    reasons = [problem for problem in (remote_code_problem(model, config),) if problem]
    if not any(name.endswith(".safetensors") for name in model.files):
        reasons.append(f"'{model.repo_id}' has no .safetensors weights at commit {model.commit[:7]}: save the "
                       "merged model with safe_serialization (pickled .bin files are not loaded).")
        return reasons, facts
    count = hub.parameter_count(model)
    cap = challenge.limits.base_params_max
    facts.params_total = count.total
    if count.total is None:
        reasons.append(f"{count.reason}; the cap is {_cap_words(cap)}.")
    elif count.total > cap:
        reasons.append(f"'{model.repo_id}' has {count.total / 1e9:.2f} B parameters; this challenge allows at most "
                       f"{cap / 1e9:g} B.")
    return reasons, facts


def _cut_off_problem(component: Component, repo: ResolvedRepo, before: str | None) -> str | None:
    if before is None:
        return None
    if repo.committed_at is None:
        return f"The Hub gives no date for '{component}', so it cannot be checked against the {before} cut-off."
    committed = repo.committed_at if repo.committed_at.tzinfo else repo.committed_at.replace(tzinfo=UTC)
    if committed >= datetime.combine(date.fromisoformat(before), datetime.min.time(), UTC):
        return (f"'{component}' was committed on {committed:%Y-%m-%d}; components must be uploaded before "
                f"{before}.")
    return None


def _component_config(hub: HubModels, component: Component, before: str | None) -> tuple[list[str], dict | None]:
    """The component's config.json (a model) or adapter_config.json (a LoRA), after its Hub checks."""
    try:
        repo = hub.resolve(component.repo, component.revision, allow_gated=component.kind == "model")
        if repo.commit != component.revision:
            raise HubCheckError([f"'{component}' is not a commit of '{component.repo}'."])
        problem = _cut_off_problem(component, repo, before)
        config = hub.model_config(repo) if component.kind == "model" else hub.adapter_config(repo)
    except HubCheckError as error:
        return error.reasons, None
    return [problem] if problem else [], config


def check_recipe_components(hub: HubModels, challenge: Challenge, recipe: Recipe) -> tuple[list[str], MergeFacts]:
    """Every component public and at its pinned commit, committed before the cut-off; then, from their
    configuration files, the merged model's size, the models' compatibility and each adapter's base."""
    facts = MergeFacts(components=[{"repo": c.repo, "revision": c.revision, "kind": c.kind} for c in recipe.components])
    reasons: list[str] = []
    configs: dict[Component, dict[str, Any]] = {}
    for component in recipe.components:
        problems, config = _component_config(hub, component, challenge.limits.components_uploaded_before)
        reasons += problems
        if config is not None:
            configs[component] = config
    if len(configs) < len(recipe.components):
        return reasons, facts  # the size and shape checks need every configuration
    models = {c: configs[c] for c in recipe.components if c.kind == "model"}
    adapters = {c: configs[c] for c in recipe.components if c.kind == "lora"}
    cap_problem = parameter_cap_problem(recipe, models, challenge.limits.base_params_max)
    facts.params_total = estimate_parameters(merged_config(recipe, models))
    reasons += [cap_problem] if cap_problem else []
    reasons += compatibility_problems(recipe, models) + adapter_base_problems(recipe, adapters)
    return reasons, facts
