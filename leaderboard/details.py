"""The details of one result (what a board row links to): scores, model and adapter commits, provenance. Its
per-sample outputs are paged by :mod:`leaderboard.samples_view`."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote

from challenges.definitions import challenges
from leaderboard.boards import Boards
from leaderboard.hidden_test import Revealed, read_revealed
from leaderboard.merge_view import merge_markdown, test_scores_markdown
from leaderboard.provenance_view import partial_reasons, provenance_rows
from leaderboard.render import format_delta
from leaderboard.table import display_source, latest_rechecks, recheck_gap
from store.aggregates import aggregate, find_result, finished_results
from store.base import Record, Store


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _text(value) -> str:
    """A table cell that shows ``value`` as typed: no HTML, no column break."""
    return escape(str(value)).replace("|", "&#124;")


def _why_partial(record: Record) -> str:
    reasons = partial_reasons(record.get("provenance") or {}) or ["the evaluator marked it partial"]
    return "a partial (smoke) run: " + "; ".join(reasons)


def details_markdown(record: Record | None, linked: Record | None = None, revealed: Revealed | None = None) -> str:
    """``linked``: for a published row its latest re-check, for a re-check the published row it re-checks.
    ``revealed``: the record's challenge's revealed hidden-test scores (None before the reveal)."""
    if record is None:
        return "No result with that id. It may have been removed, or the link is incomplete."
    challenge = challenges().get(record.get("challenge", ""))
    if challenge is None:
        return "This result belongs to a challenge this Space does not run."
    lines = [f"## {escape(challenge.title)}: {escape(record.get('team') or record.get('name') or '')}", ""]
    source = display_source(record.get("source"))  # the word the board shows
    facts = [
        ("Source", source),
        ("Not ranked", _why_partial(record) if source == "partial" else None),
        ("Adapter / model", record.get("model_repo")),
        ("Commit", record.get("model_commit")),
        ("Base model", record.get("base_model")),
        ("Base model commit", record.get("base_commit")),
        ("Comm. costs (GB)", record.get("comm_gb")),
        ("Comm. cost check", (record.get("comm_check") or {}).get("summary")),
        ("Date", record.get("date")),
        ("Code", record.get("code_url")),
    ]
    lines += [f"| Result | {_text(record.get('id', ''))} |", "|---|---|"]
    lines += [f"| {k} | {_text(v)} |" for k, v in facts if v not in (None, "")]
    scores = record.get("scores") or {}
    lines += ["", "### Scores", "| Column | Score |", "|---|---:|"]
    lines += [f"| {c.label} | {_score(scores[c.key])} |" for c in challenge.columns if c.key in scores]
    lines += [f"| **{challenge.board.average_label}** | **{_score(record.get('average'))}** |"]
    if revealed is not None and challenge.hidden_test is not None:
        lines += test_scores_markdown(challenge, revealed.entries.get(record["id"]), record.get("average"))
    lines += recheck_markdown(challenge, record, linked)
    if isinstance(record.get("merge"), dict):
        lines += merge_markdown(record["merge"])
    provenance = record.get("provenance") or {}
    if provenance:
        lines += ["", "### Provenance", "| What | Value |", "|---|---|"]
        lines += [f"| {_text(label)} | {_text(text)} |" for label, text in provenance_rows(challenge, provenance)]
        raw = escape(json.dumps(provenance, indent=2, sort_keys=True), quote=False)
        lines += ["", "<details><summary>The provenance record as stored (JSON)</summary>", "",
                  f"<pre>{raw}</pre>", "</details>"]
    return "\n".join(lines)


def _link(result_id: str) -> str:
    return f"[{_text(result_id)}](?details={quote(result_id)})"


def recheck_markdown(challenge, record: Record, linked: Record | None) -> list[str]:
    """Self-reported and verified averages side by side, for a published row and for its re-check."""
    if record.get("source") != "published" and not record.get("rechecks"):
        return []
    lines = ["", "### Re-check of the self-reported numbers"]
    published, recheck = (record, linked) if record.get("source") == "published" else (linked, record)
    if published is None or recheck is None:
        what = "This row has not been re-checked yet." if recheck is None else \
            f"The published row {_text(record['rechecks'])} it re-checks is not in the results store."
        return lines + [what]
    delta, flagged = recheck_gap(challenge, published.get("average"), recheck.get("average"))
    tolerance = challenge.checks.recheck_tolerance
    flag = f"**⚠ differs by more than {tolerance:g} points**" if flagged else f"within {tolerance:g} points"
    lines += ["| | Average | Result |", "|---|---:|---|",
              f"| Self-reported (published) | {_score(published.get('average'))} | {_link(published['id'])} |",
              f"| Verified (re-evaluated by this Space) | {_score(recheck.get('average'))} | {_link(recheck['id'])} |",
              f"| Δ (verified − self-reported) | {format_delta(delta, 2)} | {flag} |"]
    return lines


def linked_result(store: Store, record: Record, boards: Boards | None = None) -> Record | None:
    """A published row's latest re-check, or the published row a re-check re-checks (from what ``boards`` last
    read when given, else from the store)."""
    if record.get("rechecks"):
        return _result(store, record["rechecks"], boards)
    if record.get("source") == "published":
        found = boards.rechecks_of(record["id"]) if boards is not None else rechecks_of(store, record)
        return latest_rechecks(found).get(record["id"])
    return None


def _result(store: Store, result_id: str, boards: Boards | None) -> Record | None:
    return (boards.record(result_id) if boards is not None else None) or find_result(store, result_id, challenges())


def rechecks_of(store: Store, published: Record) -> list[Record]:
    """The re-checks of a published row: those its challenge's aggregate holds, and those finished since (found
    through their requests, which name the row they re-check: an indexed read on the SQL store)."""
    rows = (aggregate(store, published["challenge"]) or {}).get("rows", ())
    found = {row["id"]: row for row in rows if row.get("rechecks") == published["id"]}
    for result_id in finished_results(store.select("requests", rechecks=published["id"])):
        if result_id not in found:
            found[result_id] = store.get("results", result_id)
    return [record for record in found.values() if record is not None]


def lookup_details(store: Store, record_id: str, boards: Boards | None = None) -> str:
    """A result's details page; ``boards``: the app's boards, whose rows serve the records they hold without
    reading an aggregate again."""
    record = _result(store, record_id, boards) if record_id else None
    if record is None:
        return details_markdown(None)
    revealed = read_revealed(store).get(record.get("challenge", ""))
    return details_markdown(record, linked_result(store, record, boards), revealed)
