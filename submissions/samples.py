"""The offline samples: when the Space talks to the bundled local Hub (``python -m localhub``), the Submit tab
lists the sample adapters it serves, read from that Hub's catalog (``localhub/samples``, ``samples.json``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from localhub.samples import CATALOG_FILE, CATALOG_REPO

CATALOG_PATH = f"/datasets/{CATALOG_REPO}/resolve/main/{CATALOG_FILE}"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_sample_catalog(endpoint: str | None, timeout_s: float = 2.0) -> dict | None:
    """The local Hub's sample catalog, or None when ``endpoint`` is not a loopback Hub that has one
    (the real Hub and other endpoints are never asked)."""
    if not endpoint or urlsplit(endpoint).hostname not in LOOPBACK:
        return None
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + CATALOG_PATH, timeout=timeout_s) as answer:
            catalog = json.loads(answer.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    if not isinstance(catalog, dict) or not isinstance(catalog.get("adapters"), dict):
        return None
    return catalog


def samples_markdown(catalog: dict, titles: dict[str, str]) -> str:
    """What to type to try the samples: the base model and the adapter ids per challenge."""
    lines = [
        "**Offline samples** (this Space uses the bundled local Hub): pick a challenge, enter one of its sample "
        f"adapters and the base model `{catalog.get('base_model', '')}`; any team, code URL and cost. The adapters "
        "are random tiny LoRAs evaluated on a few sample questions: their results are marked *partial* and never "
        "ranked.",
        "",
    ]
    for challenge_id, ids in catalog["adapters"].items():
        lines.append(f"- {titles.get(challenge_id, challenge_id)}: " + ", ".join(f"`{i}`" for i in ids))
    return "\n".join(lines)
