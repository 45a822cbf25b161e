"""The published rows appear exactly as published: names, numbers, dates, ranks."""

import re
from pathlib import Path

from leaderboard.boards import Boards
from leaderboard.challenges import challenges
from leaderboard.published import all_published_records, import_published
from leaderboard.render import format_cost, format_date, format_score
from submissions.store import LocalStore

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


def test_imported_rows_are_records_marked_published_and_import_is_idempotent(tmp_path):
    store = LocalStore(tmp_path)
    assert import_published(store) == 19 + 1 + 2 + 1 + 13
    assert import_published(store) == 0
    records = store.all("results")
    assert len(records) == 36
    assert {r["source"] for r in records} == {"published"}
    assert all(r["request_id"] is None and r["provenance"]["imported_from"].startswith("https://")
               for r in records)
    first = store.get("results", "published-general_nlp-001")
    assert first["team"] == "ZeroOne.AI" and first["date"] == "2026-01-14" and first["comm_gb"] == 2.9
