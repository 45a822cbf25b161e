"""Random damage to stored records: whatever a file holds, it is either read (and then every view copes with it)
or set aside with a reason. 40 damaged files in CI, 2000 with ``RELIABILITY_SWEEP=1``
(``RECORD_FUZZ_CASES`` sets the number exactly)."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from evaluator import queue as work_queue
from store.base import LocalStore
from tests.bad_records import CONTACT, GOOD, NOW, reading_paths_work
from tests.sweep import sweep_size

CASES = sweep_size("RECORD_FUZZ_CASES", 40, 2000)
ODD_VALUES = [None, True, 0, -1, 1e308, float("nan"), "", "yesterday", "soon", "2026-13-45", "<b>x</b>", [], {},
              [1, 2], {"entry": 5}, {"done": 5, "total": 3}, {"done": "1"}, {"reason": 5}, {"stem": "50"},
              "2026-03-10T09:00:00", "2026-03-10", 10**30, "PENDING", "RUNNING", "FAILED", "FINISHED", "tie"]


def damage(record: dict, rng: random.Random) -> bytes:
    """One random kind of damage to ``record`` stored as ``bad.json``."""
    record = {**record, "id": "bad"}
    kind = rng.choice(["value", "value", "value", "drop", "nest", "truncate", "flip"])
    if kind == "value":
        for _ in range(rng.randint(1, 3)):
            record[rng.choice(sorted(record) + ["progress", "failure", "scores", "hidden", "a", "b"])] = \
                rng.choice(ODD_VALUES)
    elif kind == "drop":
        record.pop(rng.choice(sorted(record)))
    elif kind == "nest":
        key = rng.choice(sorted(record))
        for _ in range(rng.randint(1, 3)):
            record[key] = {"x": record[key]} if rng.random() < 0.5 else [record[key]]
    content = json.dumps(record, allow_nan=True).encode()
    if kind == "truncate":
        return content[: rng.randrange(len(content))]
    if kind == "flip":
        at = rng.randrange(len(content))
        return content[:at] + bytes([rng.randrange(256)]) + content[at + 1:]
    return content


@pytest.mark.parametrize("seed", range(CASES))
def test_a_randomly_damaged_record_is_read_or_set_aside_and_every_view_copes(tmp_path, seed):
    rng = random.Random(seed)
    collection = rng.choice(["requests", "results", "votes", "private"])
    store = LocalStore(tmp_path)
    for name, record in GOOD.items():
        store.put(name, record)
    (tmp_path / collection / "bad.json").write_bytes(damage(GOOD.get(collection, CONTACT), rng))
    read = {r["id"] for r in store.all(collection)}
    listed = [item for item in store.quarantined() if item.path == f"{collection}/bad.json"]
    assert ("bad" in read) != bool(listed)  # one or the other, never both, never neither
    reading_paths_work(store, bad_is_hidden="bad" not in read)
    claimed = work_queue.claim_next(store, "worker-1", NOW, timedelta(minutes=10), 3)
    assert claimed is not None and claimed[0].request_id in {"good-request", "bad"}
