"""Tree listings in pages, as the Hub serves them: at most one page of entries per answer, the rest behind a
``Link: <...>; rel="next"`` header whose ``cursor`` parameter says where the next page starts (huggingface_hub
follows it in ``utils._pagination``; the Hub's pages hold 1,000 entries, 50 with ``expand=true``).

The cursor is opaque to clients (base64 JSON of the last path served) and pages are in path order, so each
page follows on from the previous one even if the branch moved in between.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import urlencode

from localhub.repos import HubError


def _encode(last_path: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"file_name": last_path}).encode()).decode()


def _decode(cursor: str) -> str:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))["file_name"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise HubError(400, f"Invalid cursor: {cursor}") from None


def tree_page(
    entries: list[dict], query: dict[str, list[str]], page_size: int, url: str
) -> tuple[list[dict], dict[str, str]]:
    """The page of ``entries`` that ``query`` asks for (from its ``cursor`` on), and the ``Link`` header
    pointing at ``url`` for the next page when there is one."""
    ordered = sorted(entries, key=lambda entry: entry["path"])
    if query.get("cursor"):
        after = _decode(query["cursor"][0])
        ordered = [entry for entry in ordered if entry["path"] > after]
    page = ordered[:page_size]
    if len(ordered) <= page_size:
        return page, {}
    next_query = {name: values for name, values in query.items() if name != "cursor"}
    next_query["cursor"] = [_encode(page[-1]["path"])]
    return page, {"Link": f'<{url}?{urlencode(next_query, doseq=True)}>; rel="next"'}
