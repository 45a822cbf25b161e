"""The queue's public API. The submit endpoint is the Submit tab's own function (``/submit``, see
``submissions/ui.py``), so the API and the form refuse alike, sign-in included."""

from __future__ import annotations

import gradio as gr

from leaderboard.challenges import challenges
from submissions.queue_view import queue_rows
from submissions.store import Store, StoreError
from uikit.api import refused

MAX_PAGE_SIZE = 100


def query_problem(challenge: str, page: int, page_size: int) -> str | None:
    """What is wrong with a queue query, in words, or None."""
    if challenge and challenge not in challenges():
        return f"Unknown challenge '{challenge}': use one of {', '.join(challenges())}, or empty for all."
    if page < 1:
        return f"page must be 1 or more (got {page})."
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        return f"page_size must be between 1 and {MAX_PAGE_SIZE} (got {page_size})."
    return None


def queue_api(store: Store):
    """The ``read_queue`` endpoint, bound to the app's store."""

    def read_queue(challenge: str = "", team: str = "", page: int = 1, page_size: int = 50) -> dict:
        """Requests as the Queue tab lists them (running and pending first, newest first), with state and
        position / progress / failure reason. challenge: a challenge id, or empty for all. team: only this
        team's requests (spelling variants of the name match). ``notice`` says when the queue shown may be out
        of date."""
        problem = query_problem(challenge, page, page_size)
        if problem:
            raise refused(problem)
        try:
            requests = store.all("requests")
        except StoreError as error:
            raise gr.Error(f"The queue cannot be read right now ({error}). Try again in a minute.") from None
        rows = queue_rows(requests, team or "", challenge or "")
        start = (page - 1) * page_size
        return {"total": len(rows), "page": page, "pages": max(1, -(-len(rows) // page_size)),
                "rows": rows[start:start + page_size], "notice": store.stale_note("requests")}

    return read_queue
