"""The queue as participants see it: every pending and running request and the latest ones submitted, each with
its state, its place, its progress or why it failed."""

from __future__ import annotations

from datetime import datetime
from html import escape

from challenges.definitions import challenges
from store.base import Record, SetAside, Store, StoreError
from store.states import FAILED, PENDING, RUNNING
from store.timestamps import parse_utc
from submissions.rules import normalize_team


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


def notes_text(request: Record) -> str:
    """What else the queue tells about a request: an organiser's re-check, a communication cost warning."""
    notes = []
    if request.get("rechecks"):
        notes.append(f"Organiser re-check of the published row {request['rechecks']} (counts against no limit).")
    check = request.get("comm_check") if isinstance(request.get("comm_check"), dict) else {}
    if check.get("warning"):
        notes.append(str(check["warning"]))
    return " ".join(notes)


def model_text(request: Record) -> str:
    """What is evaluated: ``repo@commit`` (an adapter, a merged model repo), or a merge recipe's display name
    with its method and component count; merging entries say which kind they are."""
    kind = request.get("kind")
    if kind == "merge_recipe":
        components = request.get("components") if isinstance(request.get("components"), list) else []
        return f"merge recipe: {request.get('repo_id') or ''} ({len(components)} components)"
    pinned = f"{request.get('repo_id') or ''}@{(request.get('commit') or '')[:7]}"
    return f"merged model: {pinned}" if kind == "merged_model" else pinned


RECENT_SHOWN = 500  # the latest requests listed whatever their state; every pending and running one always is


def queue_requests(store: Store) -> tuple[list[Record], str | None]:
    """What the Queue tab and ``read_queue`` list: every PENDING and RUNNING request and the ``RECENT_SHOWN``
    latest submitted (a few indexed reads, never the whole requests collection: a busy season holds 100k), and a
    note when older requests are left out."""
    recent = store.newest("requests", "submitted_at", RECENT_SHOWN)
    listed = {r["id"]: r for r in recent}
    listed.update({r["id"]: r for state in (PENDING, RUNNING) for r in store.select("requests", state=state)})
    note = (f"Listing every pending and running request and the {RECENT_SHOWN} latest submitted; older requests "
            "are in the requests dataset's log." if len(recent) == RECENT_SHOWN else None)
    return list(listed.values()), note


def _when(request: Record) -> datetime:
    return parse_utc(request["submitted_at"])  # the record contract makes it readable


def queue_rows(requests: list[Record], team: str = "", challenge_id: str = "") -> list[dict[str, str]]:
    """Newest first, whatever the state (a pending request shows its place in line); filtered by team
    (normalized) and challenge."""
    pending = sorted((r for r in requests if r.get("state") == PENDING), key=lambda r: (_when(r), r["id"]))
    positions = {r["id"]: i for i, r in enumerate(pending, start=1)}
    wanted = normalize_team(team) if team.strip() else ""
    chosen = [
        r for r in requests
        if (not wanted or wanted in (r.get("team_key") or "")) and (not challenge_id or r.get("challenge") == challenge_id)
    ]
    chosen.sort(key=lambda r: (_when(r), r["id"]), reverse=True)
    titles = {cid: c.title for cid, c in challenges().items()}
    return [
        {
            "id": r["id"],
            "challenge": titles.get(r.get("challenge"), r.get("challenge", "")),
            "model": model_text(r),
            "team": r.get("team") or "",
            "submitted": f"{_when(r):%Y-%m-%d %H:%M} UTC",
            "state": r.get("state") or "",
            "status": status_text(r, positions.get(r["id"])),
            "notes": notes_text(r),
        }
        for r in chosen
    ]


QUEUE_HEADERS = (("id", "Request"), ("challenge", "Challenge"), ("model", "Model @ commit"), ("team", "Team"),
                 ("submitted", "Submitted"), ("state", "State"), ("status", "Position / progress / reason"),
                 ("notes", "Notes"))


def render_queue(rows: list[dict[str, str]]) -> str:
    head = "".join(f"<th>{label}</th>" for _, label in QUEUE_HEADERS)
    body = "".join(
        f'<tr data-id="{escape(row["id"])}" data-state="{escape(row["state"])}">'
        + "".join(f'<td data-col="{key}">{escape(row[key])}</td>' for key, _ in QUEUE_HEADERS)
        + "</tr>"
        for row in rows
    ) or f'<tr><td colspan="{len(QUEUE_HEADERS)}" class="empty">No requests match.</td></tr>'
    return f'<table class="board-table queue-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


SET_ASIDE_SHOWN = 5


def set_aside_note(items: list[SetAside]) -> str | None:
    """For the operator: which stored files are left out of every view, and why."""
    if not items:
        return None
    listed = "; ".join(f"{item.path}: it {item.reason}" for item in items[:SET_ASIDE_SHOWN])
    more = f"; and {len(items) - SET_ASIDE_SHOWN} more" if len(items) > SET_ASIDE_SHOWN else ""
    return (f"{len(items)} stored record(s) were set aside because they cannot be read, and are left out of "
            f"every view until the operator repairs or removes them: {listed}{more}.")


def render_notes(notes: list[str | None]) -> str:
    return "".join(f'<div class="board-notice">{escape(note)}</div>' for note in notes if note)


def queue_page(store: Store, team: str = "", challenge_id: str = "") -> str:
    """The Queue tab's table, with a note when the data may be out of date and one listing set-aside files."""
    try:
        requests, older = queue_requests(store)
    except StoreError as error:
        return render_notes([f"The queue cannot be read right now ({error}). Try again in a minute."])
    table = render_queue(queue_rows(requests, team, challenge_id))
    return render_notes([store.stale_note("requests"), set_aside_note(store.quarantined()), older]) + table
