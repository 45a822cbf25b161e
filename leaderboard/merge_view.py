"""The merging track's part of a result's details: how to redo the merge, and the revealed test scores."""

from __future__ import annotations

from html import escape

from challenges.definitions import Challenge


def _cell(value: object) -> str:
    return escape(str(value)).replace("|", "&#124;")


def merge_markdown(merge: dict) -> list[str]:
    """The recipe (as submitted, shown verbatim), each component pinned to its commit, and the merged weights'
    sha256: what anyone needs to redo the merge and check they got the same weights."""
    lines = ["", "### The merge", "| What | Value |", "|---|---|"]
    facts = [("Submitted as", {"merge_recipe": "a merge recipe (merged by this Space)",
                               "merged_model": "a merged model repo"}.get(merge.get("kind"), merge.get("kind"))),
             ("Method", merge.get("method")), ("Merged weights sha256", merge.get("merged_sha256"))]
    lines += [f"| {label} | {_cell(value)} |" for label, value in facts if value]
    components = [c for c in merge.get("components") or () if isinstance(c, dict)]
    if components:
        lines += ["", "**Components**", "", "| Repo | Commit | Kind |", "|---|---|---|"]
        lines += [f"| {_cell(c.get('repo', ''))} | {_cell(c.get('revision', ''))} | {_cell(c.get('kind', ''))} |"
                  for c in components]
    if merge.get("recipe"):
        lines += ["", "**Recipe** (mergekit YAML, as submitted)", "",
                  f'<pre class="merge-recipe"><code>{escape(str(merge["recipe"]), quote=False)}</code></pre>']
    return lines


def test_scores_markdown(challenge: Challenge, entry: dict | None, validation_average: object) -> list[str]:
    """The revealed hidden-test scores of one result (called only after the reveal)."""
    if entry is None:
        return ["", "### Hidden test", "The hidden test has been revealed; this entry has no test scores."]
    scores = entry.get("scores") or {}
    lines = ["", "### Hidden test (revealed)", "| Column | Score |", "|---|---:|"]
    lines += [f"| {c.label} | {scores[c.key]:.2f} |" for c in challenge.hidden_test.columns if c.key in scores]
    average = entry.get("average")
    if isinstance(average, (int, float)):
        lines.append(f"| **Test average** | **{average:.2f}** |")
        if isinstance(validation_average, (int, float)):
            lines.append(f"| Gap (test − validation) | {average - validation_average:+.2f} |")
    return lines
