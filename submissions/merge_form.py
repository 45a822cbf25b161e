"""The Merging entry of the submit form, and its checks that need no Hub: a merged model repo or a merge
recipe, the team and the contact e-mail (no base model, communication cost or code link on this track)."""

from __future__ import annotations

from dataclasses import dataclass

from merges.recipe import Recipe, RecipeError, parse_recipe
from submissions.rules import (
    check_description,
    check_email,
    check_repo_id,
    check_revision,
    check_team,
)

MERGED_MODEL, MERGE_RECIPE = "merged_model", "merge_recipe"
KINDS = {MERGED_MODEL: "merged model repo", MERGE_RECIPE: "merge recipe"}


@dataclass(frozen=True)
class MergeForm:
    challenge_id: str
    kind: str  # merged_model | merge_recipe
    team: str = ""
    repo_id: str = ""  # merged_model: the repo and the revision to pin
    revision: str = "main"
    recipe: str = ""  # merge_recipe: mergekit's YAML, every component pinned to a commit
    contact_email: str = ""
    description: str = ""


def check_merge_form(form: MergeForm) -> tuple[list[str], Recipe | None]:
    """Every problem found without the Hub (a recipe's with the line each stands on), and the parsed recipe."""
    reasons: list[str] = []
    recipe = None
    if form.kind == MERGED_MODEL:
        reasons += check_repo_id(form.repo_id, "Merged model repo ID") + check_revision(form.revision)
    elif form.kind == MERGE_RECIPE:
        if not form.recipe.strip():
            reasons.append("The merge recipe is empty: paste mergekit's YAML, upload a .yaml file or start from "
                           "a template.")
        else:
            try:
                recipe = parse_recipe(form.recipe)
            except RecipeError as error:
                reasons += [f"Recipe {problem[0].lower()}{problem[1:]}" for problem in error.problems]
    else:
        choices = ", ".join(f"'{kind}' ({label})" for kind, label in KINDS.items())
        reasons.append(f"Choose what you submit: {choices}.")
    reasons += check_team(form.team) + check_email(form.contact_email) + check_description(form.description)
    return reasons, recipe
