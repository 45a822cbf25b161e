"""The About text of each challenge, generated from its definition (so it can never disagree with it)."""

from __future__ import annotations

from challenges.definitions import Challenge
from leaderboard.hidden_test import Revealed


def _params(value: float) -> str:
    return f"{value / 1e9:g} B"


def _window(days: int) -> str:
    return {1: "per day", 7: "per week (any rolling 7 days)"}.get(days, f"per {days} days")


def _recheck_line(challenge: Challenge) -> str:
    if not challenge.is_flowertune:
        return ""
    return ("- **Verified / Δ** on a published row: organisers re-evaluated its public adapter here. *Verified* is "
            "that average, *Δ* = verified − self-reported, marked ⚠ when it is more than "
            f"{challenge.checks.recheck_tolerance:g} points; the published numbers stay as published.\n")


def _hidden_test_section(challenge: Challenge, revealed: Revealed | None) -> str:
    """How the hidden test works and whether it has been revealed (no test score is ever written here)."""
    if challenge.hidden_test is None:
        return ""
    sets = " and ".join(f"{c.label} ({c.metric})" for c in challenge.hidden_test.columns)
    status = (f"**Status: revealed** on {revealed.first_at[:10]}: the board shows the test columns, ranks by the "
              "test average and shows the correlation above the table." if revealed else
              "**Status: not revealed yet.** The board ranks by validation performance for now.")
    return f"""### The hidden test
The board shows **validation** performance; a **hidden test** decides the final ranking. Every evaluation also
scores the merged model on private test sets, {sets}, whose data only the organisers know. Those scores are kept in a private store: not on this page, in the API, the CSV export, the
results dataset or the details, until an organiser reveals them. After the reveal the board shows each test
score and the **Test average** (their unweighted mean), ranks by the test average (entries without test scores
follow), shows each entry's **gap** (test − validation average) and, above the table, the Pearson and Spearman
correlation of validation and test averages. Why it matters: in the NeurIPS 2024 competition the efficiency-track
winner scored 0.83 on the public set and 0.41 on the final hidden one.

{status}
"""


def about_markdown(challenge: Challenge, revealed: Revealed | None = None) -> str:
    """``revealed``: the challenge's revealed hidden-test scores (None before a reveal)."""
    lim = challenge.limits
    datasets = "\n".join(
        f"| {c.label} | {c.dataset} | {c.metric} |" for c in challenge.columns
    )
    average = (
        f"**{challenge.board.average_label}** is the unweighted mean of the "
        f"{len(challenge.columns)} dataset scores ({', '.join(c.label for c in challenge.columns)}); "
        "the board ranks by it, best first. Ties go to the earlier submission."
    )
    rules = []
    if lim.peft_required:
        rules.append("Submit a **PEFT adapter** checkpoint (a Hub repo with `adapter_config.json` and weights).")
    if lim.submission_kind == "merge":
        rules.append("Submit a merge of **public** Hub models / LoRA adapters: a merged model repo (safetensors, no "
                     "custom code) or a mergekit recipe with every component pinned to a commit.")
    if lim.components_uploaded_before:
        rules.append(f"Every component must have been uploaded (its commit dated) before "
                     f"**{lim.components_uploaded_before}**.")
    rules.append(f"Base model(s): at most **{_params(lim.base_params_max)} parameters**"
                 + (" in total." if lim.submission_kind == "merge" else "."))
    if lim.comm_gb_max is not None:
        rules.append(
            f"Communication budget: at most **{lim.comm_gb_max:g} GB** in total (bytes sent + received "
            "over all federated rounds), reported with the submission and shown as *Comm. Costs*. A GB here is "
            "the official tracker's MB / 1000, i.e. 1000 × 1024² bytes. Give *clients per round* and *rounds* "
            "and the reported cost is compared with 2 × adapter size × clients per round × rounds; more than "
            f"{challenge.checks.comm_tolerance:.0%} apart is a warning on the request and in Details, not a refusal."
        )
    if lim.gpu_hours_max is not None:
        rules.append(f"The merge must run in under **{lim.gpu_hours_max:g} h** on one A6000-class GPU.")
    if lim.code_url_required:
        rules.append("A link to the code repository is required.")
    count = "one evaluation" if lim.per_team_count == 1 else f"at most {lim.per_team_count} submissions"
    rules.append(f"Limit: **{count} per team {_window(lim.per_team_days)}**.")
    rule_lines = "\n".join(f"- {r}" for r in rules)
    return f"""## {challenge.title}

{challenge.tagline}

**Task.** {challenge.task}

### Datasets and metrics
| Column | Dataset | Metric |
|---|---|---|
{datasets}

{average} Scores are {challenge.metric}.

### Rules
{rule_lines}

### Where the numbers come from
- **published**: self-reported results imported as published from [the published board]({challenge.published_url}).
- **verified**: scored by this Space's evaluator with the protocol above; the row links to its details.
  Models are loaded as the official evaluation script loads them:
  **{challenge.precision.describe()}**, {challenge.precision.per_call()} per generate call.

{_recheck_line(challenge)}
{_hidden_test_section(challenge, revealed)}
_Rules version `{challenge.version}` (submissions record the version they were checked against)._
"""
