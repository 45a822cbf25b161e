from submissions.queue_view import queue_rows, render_queue


def req(rid, state, submitted, team="Team A", challenge="general_nlp", **extra):
    return {"id": rid, "state": state, "submitted_at": submitted, "team": team, "team_key": team.lower(),
            "challenge": challenge, "repo_id": "o/a", "commit": "abcdef1234", **extra}


REQUESTS = [
    req("p2", "PENDING", "2026-01-03T10:00:00"),
    req("p1", "PENDING", "2026-01-02T10:00:00", team="Team B", challenge="finance"),
    req("r1", "RUNNING", "2026-01-01T09:00:00", progress={"done": 1, "total": 3, "column": "social_sciences"}),
    req("r2", "RUNNING", "2026-01-01T09:30:00", progress={"done": 3, "total": 3, "column": None}),
    req("f1", "FAILED", "2026-01-01T08:00:00", failure={"reason": "adapter base model does not match"}),
    req("d1", "FINISHED", "2026-01-01T07:00:00", result_id="res-1"),
]


def test_states_positions_progress_and_reasons():
    rows = {r["id"]: r for r in queue_rows(REQUESTS)}
    assert rows["p1"]["status"] == "position 1" and rows["p2"]["status"] == "position 2"
    assert rows["r1"]["status"] == "dataset 2 of 3 (social_sciences)"
    assert rows["r2"]["status"] == "all 3 datasets scored: writing the result"
    assert rows["f1"]["status"] == "adapter base model does not match"
    assert rows["d1"]["status"] == "scored: on the board"
    assert rows["p1"]["challenge"] == "Finance" and rows["p1"]["model"] == "o/a@abcdef1"
    assert rows["p2"]["submitted"] == "2026-01-03 10:00 UTC"
    assert [r["id"] for r in queue_rows(REQUESTS)] == ["p2", "p1", "r2", "r1", "f1", "d1"]  # newest first


def test_lookup_by_team_and_challenge():
    assert [r["id"] for r in queue_rows(REQUESTS, team="  team b ")] == ["p1"]
    assert [r["id"] for r in queue_rows(REQUESTS, challenge_id="general_nlp")] == ["p2", "r2", "r1", "f1", "d1"]
    assert "No requests match" in render_queue(queue_rows(REQUESTS, team="nobody"))


def test_queue_shows_text_not_html():
    html = render_queue(queue_rows([req("x", "FAILED", "2026-01-01", team="<img src=x>",
                                        failure={"reason": "<script>bad()</script>"})]))
    assert "<img" not in html and "<script>" not in html and "&lt;script&gt;" in html


def test_queue_orders_by_the_moment_not_the_text():
    """10:00+02:00 is 08:00 UTC: earlier than 09:00 UTC, so first in line and listed below it."""
    requests = [req("east", "PENDING", "2026-01-01T10:00:00+02:00"), req("utc", "PENDING", "2026-01-01T09:00:00+00:00")]
    rows = queue_rows(requests)
    assert [r["id"] for r in rows] == ["utc", "east"]
    assert {r["id"]: r["status"] for r in rows} == {"east": "position 1", "utc": "position 2"}
    assert rows[1]["submitted"] == "2026-01-01 08:00 UTC"


def test_newest_first_whatever_the_state():
    """A FAILED request sorted above every newer FINISHED one: the state decided the order before the time."""
    requests = [req("old-failed", "FAILED", "2026-01-01T08:00:00", failure={"reason": "no"}),
                req("new-finished", "FINISHED", "2026-01-05T08:00:00", result_id="res-2"),
                req("mid-finished", "FINISHED", "2026-01-03T08:00:00", result_id="res-1"),
                req("newest-failed", "FAILED", "2026-01-06T08:00:00", failure={"reason": "no"})]
    assert [r["id"] for r in queue_rows(requests)] == ["newest-failed", "new-finished", "mid-finished", "old-failed"]
