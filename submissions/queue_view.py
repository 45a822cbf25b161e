"""The queue as participants see it: every request, its state, its place, its progress or why it failed."""

from __future__ import annotations

from html import escape

from leaderboard.challenges import challenges
from submissions.rules import normalize_team
from submissions.service import FAILED, PENDING, RUNNING
from submissions.store import Record

STATE_ORDER = {RUNNING: 0, PENDING: 1, FAILED: 2}


def status_text(request: Record, position: int | None) -> str:
    state = request.get("state")
    if state == PENDING:
        return f"position {position}" if position else "waiting"
    if state == RUNNING:
        progress = request.get("progress") or {}
        if progress.get("total"):
            done, total = progress.get("done", 0), progress["total"]
            if done >= total:
                return f"all {total} datasets scored: writing the result"
            column = f" ({progress['column']})" if progress.get("column") else ""
            return f"dataset {done + 1} of {total}{column}"
        return "starting"
    if state == FAILED:
        failure = request.get("failure") or {}
        return failure.get("reason") or "failed"
    if request.get("result_id"):
        return "scored: on the board"
    return ""


def queue_rows(requests: list[Record], team: str = "", challenge_id: str = "") -> list[dict[str, str]]:
    """Newest first, running and pending on top; filtered by team (normalized) and challenge."""
    pending = sorted((r for r in requests if r.get("state") == PENDING), key=lambda r: (r["submitted_at"], r["id"]))
    positions = {r["id"]: i for i, r in enumerate(pending, start=1)}
    wanted = normalize_team(team) if team.strip() else ""
    chosen = [
        r for r in requests
        if (not wanted or wanted in r.get("team_key", "")) and (not challenge_id or r.get("challenge") == challenge_id)
    ]
    chosen.sort(key=lambda r: r["submitted_at"], reverse=True)
    chosen.sort(key=lambda r: STATE_ORDER.get(r.get("state"), 3))
    titles = {cid: c.title for cid, c in challenges().items()}
    return [
        {
            "id": r["id"],
            "challenge": titles.get(r.get("challenge"), r.get("challenge", "")),
            "model": f"{r.get('repo_id', '')}@{(r.get('commit') or '')[:7]}",
            "team": r.get("team", ""),
            "submitted": r.get("submitted_at", "").replace("T", " ")[:16] + " UTC",
            "state": r.get("state", ""),
            "status": status_text(r, positions.get(r["id"])),
        }
        for r in chosen
    ]


QUEUE_HEADERS = (("id", "Request"), ("challenge", "Challenge"), ("model", "Model @ commit"), ("team", "Team"),
                 ("submitted", "Submitted"), ("state", "State"), ("status", "Position / progress / reason"))


def render_queue(rows: list[dict[str, str]]) -> str:
    head = "".join(f"<th>{label}</th>" for _, label in QUEUE_HEADERS)
    body = "".join(
        f'<tr data-id="{escape(row["id"])}" data-state="{escape(row["state"])}">'
        + "".join(f'<td data-col="{key}">{escape(row[key])}</td>' for key, _ in QUEUE_HEADERS)
        + "</tr>"
        for row in rows
    ) or f'<tr><td colspan="{len(QUEUE_HEADERS)}" class="empty">No requests match.</td></tr>'
    return f'<table class="board-table queue-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
