"""The details of one result (what a board row links to): scores, model and adapter commits, provenance."""

from __future__ import annotations

import json
from html import escape

from leaderboard.challenges import challenges
from submissions.store import Record, Store


def details_markdown(record: Record | None, samples: Record | None = None) -> str:
    if record is None:
        return "No result with that id. It may have been removed, or the link is incomplete."
    challenge = challenges().get(record.get("challenge", ""))
    if challenge is None:
        return "This result belongs to a challenge this Space does not run."
    lines = [f"## {escape(challenge.title)}: {escape(record.get('team') or record.get('name') or '')}", ""]
    facts = [
        ("Source", record.get("source")),
        ("Adapter / model", record.get("model_repo")),
        ("Commit", record.get("model_commit")),
        ("Base model", record.get("base_model")),
        ("Base model commit", record.get("base_commit")),
        ("Comm. costs (GB)", record.get("comm_gb")),
        ("Date", record.get("date")),
        ("Code", record.get("code_url")),
    ]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {escape(str(v))} |" for k, v in facts if v not in (None, "")]
    scores = record.get("scores") or {}
    lines += ["", "### Scores", "| Column | Score |", "|---|---:|"]
    lines += [f"| {c.label} | {scores[c.key]:.2f} |" for c in challenge.columns if c.key in scores]
    lines += [f"| **{challenge.board.average_label}** | **{record.get('average', float('nan')):.2f}** |"]
    provenance = record.get("provenance") or {}
    if provenance:
        body = escape(json.dumps(provenance, indent=2, sort_keys=True))
        lines += ["", "### Provenance", f"<pre>{body}</pre>"]
    if samples:
        lines += ["", f"Per-sample outputs: {len(samples.get('samples', []))} records in the details store."]
    return "\n".join(lines)


def lookup_details(store: Store, record_id: str) -> str:
    record = store.get("results", record_id) if record_id else None
    samples = store.get("details", record_id) if record else None
    return details_markdown(record, samples)
