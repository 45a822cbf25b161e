"""Where a column's rows come from: the Hub in production, a local folder in tests and offline runs.

A local override is a folder of JSONL files in the official row format of each dataset, one
file per column named ``<column key>.jsonl`` (e.g. ``fpb.jsonl``). The file holds what the
official script starts from: FPB's whole ``train`` split (the 25 % split is made here), FIQA's
train + validation + test rows in that order, MMLU rows in ``cais/mmlu`` format (``question``,
``subject``, ``choices``, ``answer``) of any subjects (the column keeps its own, in the order its
definition lists them). For MMLU a single ``mmlu.jsonl`` shared by the three columns also works.

Every read says what it read: the dataset commit sha on the Hub (a ``revision`` pinned in the definition, or
the sha a moving ref pointed at when read), or the sha256 of the local file; results record it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ColumnRows:
    """A column's raw rows and the exact version they were read at: a dataset commit sha on the Hub, or
    ``local:<file>@sha256:<digest>`` for a local override file."""

    rows: list[dict[str, Any]]
    revision: str


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _local_file(data_dir: Path, column_key: str, evaluation: dict[str, Any]) -> Path:
    candidates = [data_dir / f"{column_key}.jsonl"]
    if evaluation.get("suite") == "mmlu":
        candidates.append(data_dir / "mmlu.jsonl")
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(f"no local data for column {column_key!r}: looked for {candidates}")


def is_commit_sha(revision: Any) -> bool:
    """Whether ``revision`` pins a dataset: a full 40-hex commit sha (anything else is a moving ref)."""
    return isinstance(revision, str) and bool(_COMMIT_SHA.match(revision))


def dataset_commit(evaluation: dict[str, Any]) -> str:
    """The commit sha a column's dataset is read at. A pinned sha (``revision: <40 hex>``) is used as is; a
    moving ref (a branch such as ``refs/convert/parquet``, or none: ``main``) is resolved on the Hub now, and
    the rows are then read at that sha, so the recorded sha is the one read even if the ref moves meanwhile."""
    revision = evaluation.get("revision")
    if is_commit_sha(revision):
        return revision
    from huggingface_hub import HfApi

    return HfApi().dataset_info(evaluation["dataset"], revision=revision).sha


def _hub_split(evaluation: dict[str, Any], config: str | None, split: str, commit: str) -> list[dict[str, Any]]:
    import datasets

    return datasets.load_dataset(evaluation["dataset"], config, split=split, revision=commit).to_list()


def _local_rows(path: Path, subjects: list[str] | None) -> ColumnRows:
    rows = read_jsonl(path)
    if subjects:
        by_subject: dict[str, list[dict[str, Any]]] = {s: [] for s in subjects}
        for row in rows:
            if row["subject"] in by_subject:
                by_subject[row["subject"]].append(row)
        rows = [row for s in subjects for row in by_subject[s]]
    return ColumnRows(rows, local_revision(path))


def local_revision(path: Path) -> str:
    """What a local override file's rows are recorded as read at: its name and content hash."""
    return f"local:{path.name}@sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def load_rows(column_key: str, evaluation: dict[str, Any], data_dir: Path | None = None) -> ColumnRows:
    """The raw rows of one column, before any prompt building, in the official order, and their revision.

    ``evaluation`` is the column's ``evaluation:`` block of the challenge definition; its
    ``dataset``, ``config``, ``split``/``splits``, ``subjects`` and ``revision`` decide what is read.
    """
    splits = evaluation.get("splits") or [evaluation.get("split", "test")]
    subjects = evaluation.get("subjects")
    if data_dir is not None:
        return _local_rows(_local_file(Path(data_dir), column_key, evaluation), subjects)
    commit = dataset_commit(evaluation)
    if subjects:
        rows = [
            {**row, "subject": subject}
            for subject in subjects
            for row in _hub_split(evaluation, subject, splits[0], commit)
        ]
    else:
        rows = [row for split in splits for row in _hub_split(evaluation, evaluation.get("config"), split, commit)]
    return ColumnRows(rows, commit)
