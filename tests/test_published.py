"""The published rows appear exactly as published: names, numbers, dates, ranks."""

import csv
import logging
import re
from pathlib import Path

import pytest

from challenges.definitions import challenges
from leaderboard.aggregate import refresh_boards
from leaderboard.boards import Boards
from leaderboard.published import (
    PUBLISHED_DIR,
    all_published_records,
    published_records,
)
from leaderboard.render import format_cost, format_date, format_score
from store.aggregates import aggregate, find_result
from store.base import LocalStore
from store.hub import HubStore
from tests.board_records import finish, result
from tests.hub_server import HubServer

SEEDS = Path(__file__).parent / "fixtures" / "seeds"


def board(challenge_id: str):
    return Boards(records=all_published_records()).frame(challenge_id)


def test_general_nlp_rows_read_exactly_as_the_published_page():
    """Each published line is Rank Team Code(empty) Base Cost Average STEM Social Humanities Date, glued."""
    published = [line for line in SEEDS.joinpath("general_nlp_board.txt").read_text().splitlines()
                 if re.match(r"^\d+\D", line)]
    published[-1] = published[-1].removesuffix("======")
    frame = board("general_nlp")
    ours = [
        f"{r.rank}{r.team}{r.base_model}{format_cost(r.comm_gb)}{format_score(r.average, 2)}"
        f"{format_score(r.stem, 2)}{format_score(r.social_sciences, 2)}{format_score(r.humanities, 2)}"
        f"{format_date(r.date)}"
        for r in frame.itertuples()
    ]
    assert len(published) == 19
    assert ours == published


def test_merging_rows_read_exactly_as_the_published_table():
    text = SEEDS.joinpath("merging_board.md").read_text()
    published = re.findall(r"^\|\s*(\d+)\s*\|\s*(\S+)\s*\|\s*([\d.]+)\s*\|$", text, flags=re.M)
    frame = board("merging")
    ours = [(str(r.rank), r.name, format_score(r.average, 1)) for r in frame.itertuples()]
    assert len(published) == 13
    assert ours == published


def test_reference_rows_from_the_design_notes():
    expected = {
        "finance": [("Baseline", "Mistral-7B-v0.3", 45.27, {"fpb": 44.55, "fiqa": 62.50, "tfns": 28.77})],
        "medical": [
            ("ZeroOne.AI", "Llama3.1-Aloe-Beta-8B", 63.57,
             {"pubmedqa": 74.80, "medmcqa": 55.39, "medqa": 59.31, "careqa": 64.79}),
            ("Baseline", "Mistral-7B-v0.3", 32.82,
             {"pubmedqa": 59.00, "medmcqa": 23.69, "medqa": 27.10, "careqa": 21.47}),
        ],
        "code": [("Baseline", "Mistral-7B-v0.3", 27.36,
                  {"mbpp": 31.60, "humaneval": 23.78, "multiple_js": 28.57, "multiple_cpp": 25.47})],
    }
    for cid, rows in expected.items():
        frame = board(cid)
        got = [(r["team"], r["base_model"], r["average"], {k: r[k] for k in challenges()[cid].score_keys})
               for _, r in frame.iterrows()]
        assert got == rows
    medical = board("medical")
    assert format_cost(medical.iloc[0]["comm_gb"]) == "2.0 GB"
    nlp = board("general_nlp")
    baseline = nlp[nlp["base_model"] == "Mistral-7B-v0.3"].iloc[0]
    assert (baseline["stem"], baseline["social_sciences"], baseline["humanities"], baseline["average"]) == (
        12.37, 13.49, 12.60, 12.82)


def test_the_job_puts_the_rows_marked_published_on_the_boards_and_a_second_run_writes_nothing(tmp_path):
    store = LocalStore(tmp_path)
    assert set(refresh_boards(store).written) == set(challenges())
    assert refresh_boards(store).written == ()
    records = [row for cid in challenges() for row in aggregate(store, cid)["rows"]]
    assert len(records) == 19 + 1 + 2 + 1 + 13
    assert {r["source"] for r in records} == {"published"} and store.all("results") == []
    assert all(r["request_id"] is None and r["provenance"]["imported_from"].startswith("https://")
               for r in records)
    first = find_result(store, "published-general_nlp-zeroone.ai-internlm3-8b-instruct-2026-01-14", challenges())
    assert first["team"] == "ZeroOne.AI" and first["date"] == "2026-01-14" and first["comm_gb"] == 2.9


def test_every_shipped_row_has_its_own_id():
    for path in PUBLISHED_DIR.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(records_of(path)) == len(rows), f"a row of {path.name} was left out"


HEADER = "id,rank,team,code_url,base_model,comm_gb,average,stem,social_sciences,humanities,date\n"
ROWS = {
    "alpha": "alpha,1,Alpha,,Qwen2.5-7B-Instruct,2.9,60.00,60.00,60.00,60.00,14.01.26\n",
    "beta": "beta,2,Beta,,Qwen2.5-7B-Instruct,1.5,50.00,50.00,50.00,50.00,12.04.25\n",
    "gamma": "gamma,3,Gamma,,Phi-4,0.7,40.00,40.00,40.00,40.00,09.03.25\n",
}


def write_csv(folder: Path, *rows: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "general_nlp.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    return folder


def shown(store) -> list[tuple[str, str, float]]:
    """The General NLP board as a visitor sees it: rank, team, average."""
    frame = Boards(store, recheck_s=0).frame("general_nlp", refresh=True)
    return [(int(r.rank), r.team, r.average) for r in frame.itertuples()]


def rows(store) -> dict:
    return {row["id"]: row for row in aggregate(store, "general_nlp")["rows"]}


@pytest.fixture(params=["local store", "hub store"])
def store(request, tmp_path):
    if request.param == "local store":
        yield LocalStore(tmp_path / "store")
        return
    hub = request.getfixturevalue("hub_server")
    for name in ("requests", "results", "boards"):
        hub.add_dataset(f"org/{name}")
    yield HubStore({name: f"org/{name}" for name in ("requests", "results", "boards")}, token=HubServer.token,
                   endpoint=hub.url)


def test_an_inserted_row_shifts_no_other_row(store, tmp_path):
    csvs = write_csv(tmp_path / "csv", ROWS["alpha"], ROWS["gamma"])
    refresh_boards(store, csvs)
    before = rows(store)
    write_csv(csvs, ROWS["alpha"], ROWS["beta"], ROWS["gamma"])
    assert refresh_boards(store, csvs).written == ("general_nlp",)  # only the challenge that changed
    after = rows(store)
    assert {k: after[k] for k in before} == before and set(after) - set(before) == {"published-general_nlp-beta"}
    assert shown(store) == [(1, "Alpha", 60.0), (2, "Beta", 50.0), (3, "Gamma", 40.0)]


def test_an_edited_row_replaces_its_record(store, tmp_path):
    csvs = write_csv(tmp_path / "csv", ROWS["alpha"], ROWS["beta"])
    refresh_boards(store, csvs)
    write_csv(csvs, ROWS["alpha"], ROWS["beta"].replace("Beta,,", "Beta Team,,").replace("50.00,50.00", "70.00,50.00"))
    assert shown(store) == [(1, "Alpha", 60.0), (2, "Beta", 50.0)]  # the board shows the aggregate until the job
    assert refresh_boards(store, csvs).written == ("general_nlp",)
    assert shown(store) == [(1, "Beta Team", 70.0), (2, "Alpha", 60.0)]
    assert rows(store)["published-general_nlp-beta"]["scores"]["stem"] == 50.0


def test_a_removed_row_goes_away_from_the_board(store, tmp_path):
    csvs = write_csv(tmp_path / "csv", ROWS["alpha"], ROWS["beta"], ROWS["gamma"])
    refresh_boards(store, csvs)
    verified = result("evaluated-1", "Evaluated", 55.0)
    finish(store, verified)
    write_csv(csvs, ROWS["alpha"], ROWS["gamma"])
    assert refresh_boards(store, csvs).written == ("general_nlp",)
    assert shown(store) == [(1, "Alpha", 60.0), (2, "Evaluated", 55.0), (3, "Gamma", 40.0)]
    assert "published-general_nlp-beta" not in rows(store)
    assert find_result(store, "published-general_nlp-beta", challenges()) is None
    assert rows(store)["evaluated-1"] == verified  # only published rows are the CSVs'


def test_an_edit_that_cannot_be_read_keeps_the_stored_row(store, tmp_path, caplog):
    csvs = write_csv(tmp_path / "csv", ROWS["alpha"], ROWS["beta"])
    refresh_boards(store, csvs)
    write_csv(csvs, ROWS["alpha"], ROWS["beta"].replace("50.00,50.00,50.00,50.00", "fifty,50.00,50.00,50.00"))
    with caplog.at_level(logging.WARNING, logger="leaderboard.published"):
        assert refresh_boards(store, csvs).written == ()
    assert "row 2 of general_nlp.csv left out" in caplog.text
    assert shown(store) == [(1, "Alpha", 60.0), (2, "Beta", 50.0)]


def test_rows_keyed_by_line_number_give_way_to_their_stable_ids(tmp_path):
    """A store imported before rows had ids holds ``published-<challenge>-001``… in its results: the boards
    show the CSV rows by their stable ids, and nothing of the old copies."""
    store = LocalStore(tmp_path / "store")
    store.put("results", {**all_published_records()[0], "id": "published-general_nlp-001"})
    refresh_boards(store)
    shown_ids = set(Boards(store).frame("general_nlp")["id"])
    assert "published-general_nlp-001" not in shown_ids and len(shown_ids) == 19
    assert [r["team"] for cid in challenges() for r in aggregate(store, cid)["rows"]].count("ZeroOne.AI") == 2


def test_a_row_without_an_id_or_with_a_taken_one_is_left_out(tmp_path, caplog):
    csvs = write_csv(tmp_path / "csv", ROWS["alpha"], ROWS["beta"].replace("beta,", "alpha,", 1),
                     ROWS["gamma"].replace("gamma,", ",", 1))
    with caplog.at_level(logging.WARNING, logger="leaderboard.published"):
        records = all_published_records(csvs)
    assert [r["team"] for r in records] == ["Alpha"]
    messages = [r.getMessage() for r in caplog.records]
    assert "row 2 of general_nlp.csv left out: id 'alpha' is already used by row 1" in messages[0]
    assert "row 3 of general_nlp.csv left out: id '' is not a stable row id" in messages[1]


def records_of(path: Path):
    return published_records(challenges()[path.stem], path)
