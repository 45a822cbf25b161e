"""The Merging entry's own widgets in the Submit tab: what is submitted (a merged model repo or a merge
recipe), the recipe box with its file upload and the starter kit's templates, and which fields each
challenge shows. Wiring only: the checks live in merge_form.py, merge_hub.py and merge_service.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from merges.recipe import MAX_RECIPE_CHARS
from merges.templates import TEMPLATES
from submissions.merge_form import KINDS, MERGE_RECIPE, MERGED_MODEL
from submissions.merge_service import takes_merges

MERGING_HELP = (
    "**LLM Merging**: submit a merged model repo (safetensors, no custom code) or a recipe in "
    "[mergekit](https://pypi.org/project/mergekit/)'s YAML, every component pinned as `owner/name@<40-hex "
    "commit>`; the evaluator performs the merge. One evaluation per team per day."
)


@dataclass(frozen=True)
class MergeFields:
    kind: gr.Radio
    recipe_box: gr.Group
    recipe: gr.Textbox


def merge_fields() -> MergeFields:
    """The Merging widgets, hidden until the merging challenge is chosen."""
    kind = gr.Radio([(label, key) for key, label in KINDS.items()], value=MERGE_RECIPE, label="What you submit",
                    visible=False, elem_id="submit-kind")
    with gr.Group(visible=False, elem_id="submit-recipe-box") as recipe_box:
        gr.Markdown(MERGING_HELP)
        with gr.Row():
            buttons = {key: gr.Button(f"Template: {template.title}", size="sm", elem_id=f"merge-template-{key}")
                       for key, template in TEMPLATES.items()}
        recipe = gr.Textbox(label="Merge recipe (mergekit YAML)", lines=14, max_lines=40, max_length=MAX_RECIPE_CHARS,
                            placeholder="merge_method: linear\nmodels:\n  - model: owner/name@<commit>\n    ...",
                            elem_id="submit-recipe")
        upload = gr.File(label="…or upload a .yaml file", file_types=[".yaml", ".yml"], type="filepath",
                         height=90, elem_id="submit-recipe-file")
    for key, button in buttons.items():
        button.click(lambda key=key: TEMPLATES[key].render(), None, recipe, queue=False)
    upload.upload(read_recipe_file, upload, recipe, queue=False)
    return MergeFields(kind, recipe_box, recipe)


def read_recipe_file(path: str | None) -> str:
    """An uploaded recipe's text (one character past the limit, so the check says it is too long)."""
    if not path:
        return ""
    with open(Path(path), encoding="utf-8", errors="replace") as handle:
        return handle.read(MAX_RECIPE_CHARS + 1)


def layout(challenge_id: str, kind: str) -> tuple:
    """Visibility of (kind, recipe box, repo, revision, base model, FlowerTune-only row) for a challenge."""
    merging = takes_merges(challenge_id)
    by_repo = not merging or kind == MERGED_MODEL
    repo_label = "Merged model repo ID" if merging else "Adapter repo ID"
    return (gr.update(visible=merging), gr.update(visible=merging and not by_repo),
            gr.update(visible=by_repo, label=repo_label), gr.update(visible=by_repo),
            gr.update(visible=not merging), gr.update(visible=not merging))
