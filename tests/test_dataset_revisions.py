"""Every column records the dataset commit it was read at: a pinned sha is read as is, a moving ref (none, or
``refs/convert/parquet``) is resolved when read and its sha recorded, and the rows are those of that commit.

The datasets are served by the local Hub; the reads run in a fresh interpreter pointed at it (``HF_ENDPOINT`` is
read when huggingface_hub and datasets are imported) with its own cache.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd

from evaluator.data import is_commit_sha
from tests.hub_server import HubServer

ROOT = Path(__file__).resolve().parents[1]
REPO = "takala/financial_phrasebank"
README = (b"---\nconfigs:\n- config_name: sentences_50agree\n  data_files:\n  - split: train\n"
          b"    path: sentences_50agree/train/*.parquet\n---\n")
READ = ("import json, sys; from evaluator.data import load_rows; cases = json.loads(sys.argv[1]); "
        "print(json.dumps({k: vars(load_rows(k, e)) for k, e in cases.items()}))")


def parquet(sentences: list[str]) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"sentence": sentences, "label": [i % 3 for i in range(len(sentences))]}).to_parquet(buffer)
    return buffer.getvalue()


def version(hub: HubServer, sentences: list[str], branch: str = "main") -> str:
    """Commit ``sentences`` as the train split on ``branch``; a unique message keeps the sha unique per run."""
    files = {"README.md": README, "sentences_50agree/train/0000.parquet": parquet(sentences)}
    return hub.push(REPO, files, repo_type="dataset", branch=branch, message=f"rows {uuid.uuid4().hex}")


def read(hub: HubServer, tmp_path: Path, cases: dict[str, dict]) -> dict[str, dict]:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
    out = subprocess.run([sys.executable, "-c", READ, json.dumps(cases)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pinned_and_moving_revisions_are_read_and_recorded_as_commit_shas(hub_server: HubServer, tmp_path):
    hub_server.add_dataset(REPO)
    first = version(hub_server, ["first commit row one", "first commit row two"])
    head = version(hub_server, ["head row one", "head row two", "head row three"])
    parquet_export = version(hub_server, ["parquet export row"], branch="refs/convert/parquet")
    block = {"suite": "finance_sentiment", "format": "fpb", "dataset": REPO, "config": "sentences_50agree",
             "split": "train"}
    found = read(hub_server, tmp_path, {
        "pinned": {**block, "revision": first},
        "unpinned": {**block, "revision": None},
        "export": {**block, "revision": "refs/convert/parquet"},
    })
    assert found["pinned"]["revision"] == first  # used as is, although main has moved on
    assert [r["sentence"] for r in found["pinned"]["rows"]] == ["first commit row one", "first commit row two"]
    assert found["unpinned"]["revision"] == head == hub_server.head(REPO, "dataset")
    assert [r["sentence"] for r in found["unpinned"]["rows"]] == ["head row one", "head row two", "head row three"]
    assert found["export"]["revision"] == parquet_export != head
    assert [r["sentence"] for r in found["export"]["rows"]] == ["parquet export row"]
    assert all(is_commit_sha(found[k]["revision"]) for k in found)


def test_a_local_override_records_the_file_it_read(tmp_path):
    from evaluator.data import load_rows

    (tmp_path / "fpb.jsonl").write_text('{"sentence": "a", "label": 0}\n', encoding="utf-8")
    first = load_rows("fpb", {"suite": "finance_sentiment", "format": "fpb"}, tmp_path).revision
    (tmp_path / "fpb.jsonl").write_text('{"sentence": "b", "label": 0}\n', encoding="utf-8")
    second = load_rows("fpb", {"suite": "finance_sentiment", "format": "fpb"}, tmp_path).revision
    assert first.startswith("local:fpb.jsonl@sha256:") and second.startswith("local:fpb.jsonl@sha256:")
    assert first != second  # other rows, another recorded revision
