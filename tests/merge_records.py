"""Merging-track records as the evaluator writes them (issue 12's contract): results with a ``merge`` block, and
hidden-test scores in the private store's ``hidden_scores`` collection. The hidden values are distinctive, so a
text search for them (full precision and as shown with two decimals) finds any leak."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

RECIPE = """merge_method: linear
models:
  - model: org/math-7b@{commit}
    parameters: {{weight: 0.8}}
  - model: org/chat-7b@{commit}
    parameters: {{weight: 0.2}}
dtype: float32
# <script>alert('recipe')</script> | a pipe
""".format(commit="a" * 40)


def merge_result(result_id: str, name: str, cosmos_qa: float, xsum: float, source: str = "evaluated",
                 date: str = "2026-03-10") -> dict:
    return {
        "id": result_id, "request_id": f"req-{result_id}", "challenge": "merging", "team": f"Team {name}",
        "name": name, "model": name, "source": source, "scores": {"cosmos_qa": cosmos_qa, "xsum": xsum},
        "average": round((cosmos_qa + xsum) / 2, 6), "date": date, "provenance": {"device": "cpu"},
        "merge": {"kind": "merge_recipe", "recipe": RECIPE, "method": "linear", "merged_sha256": "f00d" * 16,
                  "components": [{"repo": "org/math-7b", "revision": "a" * 40, "kind": "model"},
                                 {"repo": "org/chat-7b", "revision": "b" * 40, "kind": "model"}]},
    }


def hidden(result_id: str, cosmos_qa: float, xsum: float, average: float) -> dict:
    return {"id": result_id, "challenge": "merging", "request_id": f"req-{result_id}", "team": "t", "name": result_id,
            "scores": {"test_cosmos_qa": cosmos_qa, "test_xsum": xsum}, "average": average,
            "evaluated_at": "2026-03-10T12:00:00+00:00"}


RESULTS = [
    merge_result("m-alpha", "alpha-merge", 70.0, 50.0),  # validation 60
    merge_result("m-beta", "beta-merge", 60.0, 40.0),  # validation 50
    merge_result("m-gamma", "gamma-merge", 50.0, 30.0),  # validation 40
    merge_result("m-delta", "delta-merge", 40.0, 30.0),  # validation 35, scored before the hidden test existed
    merge_result("m-smoke", "smoke-merge", 99.0, 99.0, source="partial"),  # a smoke run: never ranked
]
HIDDEN = [
    hidden("m-alpha", 31.4159, 27.1828, 29.29935),
    hidden("m-beta", 45.6789, 41.2345, 43.4567),
    hidden("m-gamma", 12.3456, 18.7654, 15.5555),
    hidden("m-smoke", 77.7777, 66.6666, 72.22215),
]
# test − validation average
GAPS = {"m-alpha": 29.29935 - 60.0, "m-beta": 43.4567 - 50.0, "m-gamma": 15.5555 - 40.0}
# The hidden columns' keys and the private collection's name; "test_average" is no secret (the API documents it).
HIDDEN_TEXT = ("test_cosmos_qa", "test_xsum", "hidden_scores", "31.4159", "27.1828", "45.6789",
               "41.2345", "12.3456", "18.7654", "29.29935", "43.4567", "15.5555", "77.7777", "66.6666", "72.22215",
               "31.42", "27.18", "45.68", "41.23", "12.35", "18.77", "29.30", "43.46", "15.56", "77.78", "66.67",
               "72.22")


def file_text(path: str, content: bytes) -> str:
    """A public dataset file as text to search: a Parquet details file as its footer and rows (its bytes are
    compressed, so a plain search would find nothing in them)."""
    if not path.endswith(".parquet"):
        return content.decode("utf-8", "replace")
    table = pq.read_table(io.BytesIO(content))
    footer = {key.decode(): value.decode() for key, value in (table.schema.metadata or {}).items()}
    return json.dumps({"footer": footer, "rows": table.to_pylist()}, ensure_ascii=False)


def leaks(text: str) -> list[str]:
    """The hidden values and keys found in ``text``."""
    return [value for value in HIDDEN_TEXT if value in text]
