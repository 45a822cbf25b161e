"""Per-sample details as one Parquet file per result (store/details_files.py): written whole, read by slice, a
newer attempt never replaced, the JSON records of before still read; on the Hub, without listing the collection."""

from __future__ import annotations

import json
import random
import string

import pyarrow.parquet as pq
import pytest

from evaluator.worker import write_details as worker_write_details
from store.base import LocalStore, StoreError
from store.details_files import (
    details_columns,
    details_info,
    read_details_slice,
    write_details,
)
from store.details_parquet import ROW_GROUP_ROWS, encode, read_info
from store.hub import HubStore
from tests.hub_server import HubServer

REPOS = {"requests": "org/requests", "results": "org/results", "details": "org/details"}

# Shaped as the suites write them (evaluator/suites.py, evaluator/code_suite.py `_record`)
MMLU = [{"prompt": f"Question {i}?", "generation": {"until": ["\n"], "max_gen_toks": 1}, "output": " B",
         "parsed": "b", "gold": "B", "correct": i % 2 == 0} for i in range(3)]
COSMOS = [{"prompt": "ctx", "output": [-1.5, -0.25, -3.0, -2.0], "parsed": 1, "gold": 1, "correct": True},
          {"prompt": "ctx 2", "output": [-0.5, -0.75, -3.0, -2.0], "parsed": 0, "gold": 2, "correct": False}]
FINANCE = [{"prompt": "Instruction: … Answer: ", "output": "", "parsed": None, "gold": "neutral", "correct": False},
           {"prompt": "Instruction: … Answer: ", "output": "positive", "parsed": "positive", "gold": "positive",
            "correct": True, "note": "a field only this sample has"}]
SAMPLES = {"stem": MMLU, "cosmos_qa": COSMOS, "fpb": FINANCE, "empty": []}


def hub_store(server: HubServer) -> HubStore:
    return HubStore(REPOS, token=HubServer.token, endpoint=server.url, backoff_s=0.005, max_backoff_s=0.05)


@pytest.fixture(params=["local", "hub"])
def store(request, tmp_path, hub_server):
    if request.param == "local":
        return LocalStore(tmp_path / "data")
    hub_server.add_dataset("org/details")
    return hub_store(hub_server)


def test_every_sample_reads_back_as_written_column_by_column_and_in_slices(store):
    assert write_details(store, "result-a", 1, "gpu-1", SAMPLES, request_id="a")
    assert details_columns(store, "result-a") == {"stem": 3, "cosmos_qa": 2, "fpb": 2, "empty": 0}
    info = details_info(store, "result-a")
    assert (info.result_id, info.request_id, info.attempt, info.worker) == ("result-a", "a", 1, "gpu-1")
    for column, records in SAMPLES.items():
        rows, total = read_details_slice(store, "result-a", column, 0, 50)
        assert total == len(records)
        assert rows == [{"column": column, "index": i, **record} for i, record in enumerate(records)]
    everything, total = read_details_slice(store, "result-a")
    assert total == 7 and [(r["column"], r["index"]) for r in everything] == [
        ("stem", 0), ("stem", 1), ("stem", 2), ("cosmos_qa", 0), ("cosmos_qa", 1), ("fpb", 0), ("fpb", 1)]
    assert read_details_slice(store, "result-a", None, 2, 2)[0] == everything[2:4]
    assert read_details_slice(store, "result-a", "stem", 3, 50) == ([], 3)
    with pytest.raises(KeyError):
        read_details_slice(store, "result-a", "humanities")
    assert read_details_slice(store, "result-none", "stem") == ([], 0) and details_info(store, "result-none") is None


def test_the_file_holds_one_row_per_sample_rows_groups_per_column_and_the_attempt_in_its_footer(tmp_path):
    store = LocalStore(tmp_path)
    many = {"stem": MMLU * 50, "fpb": FINANCE * 10}  # 150 and 20 samples
    write_details(store, "result-b", 3, "gpu-7", many)
    parquet = pq.ParquetFile(tmp_path / "details" / "result-b.parquet")
    metadata = parquet.schema_arrow.metadata
    assert (metadata[b"attempt"], metadata[b"worker"]) == (b"3", b"gpu-7")
    groups = [parquet.metadata.row_group(g) for g in range(parquet.metadata.num_row_groups)]
    assert [g.num_rows for g in groups] == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 150 - 2 * ROW_GROUP_ROWS, 20]
    table = parquet.read()
    assert table.num_rows == 170 and table.column("column").to_pylist() == ["stem"] * 150 + ["fpb"] * 20
    assert table.schema.field("prompt").type == "string" and table.schema.field("correct").type == "bool"
    assert json.loads(table.column("generation")[0].as_py()) == {"until": ["\n"], "max_gen_toks": 1}  # JSON text
    assert read_details_slice(store, "result-b", "stem", 60, 10)[0] == [
        {"column": "stem", "index": i, **MMLU[i % 3]} for i in range(60, 70)]  # across two row groups


def test_a_stale_attempt_never_replaces_a_newer_one(store):
    assert write_details(store, "result-r", 2, "w2", {"stem": MMLU[:1]})
    assert not write_details(store, "result-r", 1, "w1", {"stem": MMLU})
    assert details_info(store, "result-r").worker == "w2"
    assert read_details_slice(store, "result-r", "stem")[1] == 1
    assert write_details(store, "result-r", 2, "w2", {"stem": MMLU[:1]})  # the same attempt again: idempotent
    assert write_details(store, "result-r", 3, "w3", {"stem": MMLU})
    assert (details_info(store, "result-r").attempt, details_columns(store, "result-r")) == (3, {"stem": 3})


def test_the_worker_keeps_its_signature_and_writes_parquet(store):
    details = {"id": "result-w", "request_id": "w", "samples": {"stem": MMLU}, "attempt": 2, "worker": "gpu-2"}
    assert worker_write_details(store, details)
    assert not worker_write_details(store, {**details, "attempt": 1})
    assert details_info(store, "result-w").worker == "gpu-2" and store.get("details", "result-w") is None


def test_json_details_stored_before_still_read_and_their_attempt_still_counts(store):
    legacy = {"id": "result-old", "request_id": "old", "attempt": 4, "worker": "w4",
              "samples": {"stem": MMLU, "fpb": FINANCE}}
    store.put("details", legacy)
    assert details_columns(store, "result-old") == {"stem": 3, "fpb": 2}
    assert details_info(store, "result-old").attempt == 4
    assert read_details_slice(store, "result-old", "fpb", 1, 5) == ([{"column": "fpb", "index": 1, **FINANCE[1]}], 2)
    everything, total = read_details_slice(store, "result-old", None, 0, 50)
    assert total == 5 and {"column": "fpb", "index": 0, **FINANCE[0]} in everything
    assert not write_details(store, "result-old", 3, "w3", {"stem": MMLU[:1]})  # older than the JSON record
    assert details_columns(store, "result-old") == {"stem": 3, "fpb": 2}
    assert write_details(store, "result-old", 5, "w5", {"stem": MMLU[:1]})  # newer: the Parquet file wins
    assert details_columns(store, "result-old") == {"stem": 1}


def test_bad_samples_are_refused_and_a_stored_file_that_cannot_be_read_is_never_replaced(store):
    for bad in ({"stem": [1, 2]}, {"stem": [{"prompt": "p", "column": "x"}]}):
        with pytest.raises(StoreError, match="nothing was written"):
            write_details(store, "result-x", 1, "w", bad)
    assert details_info(store, "result-x") is None
    store.write_file("details", "result-y.parquet", b"not parquet at all", lambda stored: False)
    with pytest.raises(StoreError, match="repair or remove"):
        write_details(store, "result-y", 9, "w", {"stem": MMLU})
    with pytest.raises(StoreError, match="repair or remove"):
        read_details_slice(store, "result-y", "stem")
    with store.open_file("details", "result-y.parquet") as stored:
        assert stored.read() == b"not parquet at all"
    lying = encode({"stem": MMLU}, result_id="result-z", request_id=None, attempt=1, worker="w").replace(
        b'"columns": [["stem", 3]]', b'"columns": [["stem", 9]]')  # a footer whose count the rows do not hold
    store.write_file("details", "result-z.parquet", lying, lambda stored: False)
    assert details_columns(store, "result-z") == {"stem": 9}  # what the footer says, read alone
    with pytest.raises(StoreError, match="do not match its footer"):
        read_details_slice(store, "result-z", "stem")


@pytest.mark.hub_limits
def test_a_first_details_write_among_2000_others_makes_a_few_hub_calls_and_downloads_none_of_them(hub_server):
    others = {f"details/result-{i:04d}.parquet": encode({"stem": MMLU}, result_id=f"result-{i:04d}",
                                                          request_id=None, attempt=1, worker="w")
              for i in range(1000)}
    others.update({f"details/result-{i:04d}.json": json.dumps({"id": f"result-{i:04d}", "samples": {}}).encode()
                   for i in range(1000, 2000)})
    hub_server.add_dataset("org/details", others)
    store = hub_store(hub_server)
    before, calls_before = len(hub_server.requests), _calls(hub_server)
    details = {"id": "result-new", "request_id": "new", "samples": {"stem": MMLU}, "attempt": 1, "worker": "gpu-1"}
    assert worker_write_details(store, details)
    made = hub_server.requests[before:]
    assert len(made) <= 6, made  # the head, the file's end (absent), the JSON record (absent), preupload, commit
    assert _calls(hub_server) - calls_before == len(made)  # every one of them counted against the token
    assert not any("/tree/" in path for _, path in made)  # no listing
    assert not any("result-0" in path or "result-1" in path for _, path in made)  # none of the others read
    assert hub_server.stats()["commits"]["datasets/org/details"]["total"] == 1
    assert details_columns(store, "result-new") == {"stem": 3}


def _calls(server: HubServer) -> int:
    stats = server.stats()
    return sum(caller["window"] for bucket in ("api", "resolvers") for caller in stats[bucket].values())


def test_a_slice_of_one_column_of_a_big_file_downloads_only_a_small_part_of_it(hub_server):
    rng = random.Random(7)
    noise = ["".join(rng.choices(string.ascii_letters + " ", k=600)) for _ in range(1500)]  # incompressible prompts
    columns = {key: [{"prompt": text, "output": text[:40], "correct": True} for text in noise[k * 500:(k + 1) * 500]]
               for k, key in enumerate(("stem", "social_sciences", "humanities"))}
    hub_server.add_dataset("org/details")
    store = hub_store(hub_server)
    write_details(store, "result-big", 1, "w", columns)
    size = len(hub_server.files("org/details", "dataset")["details/result-big.parquet"])
    assert size > 600_000
    before, sent_before = len(hub_server.requests), hub_server.bytes_sent
    rows, total = read_details_slice(store, "result-big", "humanities", 300, 20)
    assert total == 500 and [r["prompt"] for r in rows] == noise[1300:1320]
    made = hub_server.requests[before:]
    assert len(made) == 2, made  # the footer (the file's last 64 KiB), then one range: the row group asked for
    assert hub_server.bytes_sent - sent_before < size / 5
    before = len(hub_server.requests)
    assert details_columns(store, "result-big") == {"stem": 500, "social_sciences": 500, "humanities": 500}
    assert len(hub_server.requests) - before == 1  # the counts are in the footer


def test_a_newer_attempt_committed_during_a_write_wins_the_race(hub_server):
    """Another worker's newer details land between this write's look at the stored file and its commit: the
    commit is refused (412, a stale parent), the write looks again, and leaves the newer file."""
    hub_server.add_dataset("org/details")
    store = hub_store(hub_server)
    newer = encode({"stem": MMLU}, result_id="result-race", request_id="race", attempt=3, worker="w3")
    looks = []

    def keep(stored):
        looks.append(None if stored is None else read_info(stored).attempt)
        if len(looks) == 1:  # the other worker commits now
            hub_server.push("org/details", {"details/result-race.parquet": newer}, repo_type="dataset")
            return False
        return looks[-1] is not None and looks[-1] > 2

    assert not store.write_file("details", "result-race.parquet", b"attempt 2's file", keep)
    assert looks == [None, 3] and hub_server.rejected_commits == 1
    assert (details_info(store, "result-race").attempt, details_info(store, "result-race").worker) == (3, "w3")


@pytest.mark.parametrize("status", [500, 429, 403])
def test_a_hub_error_while_reading_details_is_a_store_error_naming_the_file(hub_server, status):
    from localhub.server import Fault

    hub_server.add_dataset("org/details")
    store = hub_store(hub_server)
    assert write_details(store, "result-a", 1, "gpu-1", SAMPLES, request_id="a")
    hub_server.inject(Fault(path=r"/datasets/org/details/resolve/", method="GET", status=status, times=None))
    with pytest.raises(StoreError, match=r"org/details/details/result-a"):
        details_columns(store, "result-a")
