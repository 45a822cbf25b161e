"""Where a column's rows come from: the Hub in production, a local folder in tests and offline runs.

A local override is a folder of JSONL files in the official row format of each dataset, one
file per column named ``<column key>.jsonl`` (e.g. ``fpb.jsonl``). The file holds what the
official script starts from: FPB's whole ``train`` split (the 25 % split is made here), FIQA's
train + validation + test rows in that order, MMLU rows in ``cais/mmlu`` format (``question``,
``subject``, ``choices``, ``answer``) of any subjects (the column keeps its own, in the order its
definition lists them). For MMLU a single ``mmlu.jsonl`` shared by the three columns also works.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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


def _hub_split(evaluation: dict[str, Any], config: str | None, split: str) -> list[dict[str, Any]]:
    import datasets

    ds = datasets.load_dataset(
        evaluation["dataset"], config, split=split, revision=evaluation.get("revision")
    )
    return ds.to_list()


def load_rows(
    column_key: str, evaluation: dict[str, Any], data_dir: Path | None = None
) -> list[dict[str, Any]]:
    """The raw rows of one column, before any prompt building, in the official order.

    ``evaluation`` is the column's ``evaluation:`` block of the challenge definition; its
    ``dataset``, ``config``, ``split``/``splits``, ``subjects`` and ``revision`` decide what is read.
    """
    splits = evaluation.get("splits") or [evaluation.get("split", "test")]
    subjects = evaluation.get("subjects")
    if data_dir is not None:
        rows = read_jsonl(_local_file(Path(data_dir), column_key, evaluation))
        if subjects:
            by_subject: dict[str, list[dict[str, Any]]] = {s: [] for s in subjects}
            for row in rows:
                if row["subject"] in by_subject:
                    by_subject[row["subject"]].append(row)
            rows = [row for s in subjects for row in by_subject[s]]
        return rows
    if subjects:
        return [
            {**row, "subject": subject}
            for subject in subjects
            for row in _hub_split(evaluation, subject, splits[0])
        ]
    return [row for split in splits for row in _hub_split(evaluation, evaluation.get("config"), split)]
