"""The merging track's hidden test on a real local store: an organiser's reveal (write-once, refused for anyone
else), the board ranked by the test average with gaps and the validation-test correlation, Details and About."""

from __future__ import annotations

import csv
import math
import statistics
from datetime import UTC, datetime

import pandas as pd
import pytest

from challenges.definitions import challenges
from leaderboard.about import about_markdown
from leaderboard.aggregate import refresh_boards
from leaderboard.boards import Boards
from leaderboard.details import lookup_details
from leaderboard.hidden_test import (
    HIDDEN_SCORES,
    NOT_ORGANISER,
    REVEAL_OFF,
    REVEALS,
    reveal_hidden_test,
)
from leaderboard.published import PUBLISHED_DIR
from leaderboard.ranking import correlation
from store.base import LocalStore
from tests.board_records import finish
from tests.merge_records import GAPS, HIDDEN, RESULTS, hidden, leaks

TOKEN = "organiser-secret-for-the-reveal"
ORGANISER = {"ORGANISER_TOKEN": TOKEN}
MERGING = challenges()["merging"]
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path) -> LocalStore:
    store = LocalStore(tmp_path / "data")
    refresh_boards(store)
    for record in RESULTS:
        finish(store, record)
    for record in HIDDEN:
        store.put(HIDDEN_SCORES, record)
    return store


def frame_of(store):
    return Boards(store).view("merging")


def test_before_the_reveal_the_board_details_and_about_hold_nothing_hidden(store):
    frame, revealed = frame_of(store)
    assert revealed is None and "test_average" not in frame.columns and "gap" not in frame.columns
    assert leaks(frame.to_csv()) == []
    for record in RESULTS:
        assert leaks(lookup_details(store, record["id"])) == []
    about = about_markdown(MERGING, revealed)
    assert "**Status: not revealed yet.**" in about and leaks(about) == []
    words = " ".join(about.split())
    assert "efficiency-track winner scored 0.83 on the public set and 0.41 on the final hidden one" in words
    assert "ranks by the test average (entries without test scores follow)" in words


def test_evaluated_entries_stand_beside_the_published_rows_which_stay_as_published(store):
    frame, _ = frame_of(store)
    published = frame[frame["source"] == "published"]
    assert len(published) == 13 and published["average"].tolist()[:2] == [48.4, 45.8]
    alpha = frame.set_index("id").loc["m-alpha"]
    assert (alpha["name"], alpha["average"], alpha["cosmos_qa"], alpha["xsum"], alpha["date"], alpha["source"]) == \
        ("alpha-merge", 60.0, 70.0, 50.0, "2026-03-10", "verified")
    assert frame["id"].tolist()[0] == "m-alpha"  # ranked by validation before the reveal
    assert pd.isna(frame.set_index("id").loc["m-smoke", "rank"])


@pytest.mark.parametrize("environ, typed, message", [({}, TOKEN, REVEAL_OFF), (ORGANISER, "guess", NOT_ORGANISER),
                                                     (ORGANISER, "", NOT_ORGANISER)])
def test_anyone_but_an_organiser_is_refused_and_nothing_is_revealed(store, environ, typed, message):
    assert reveal_hidden_test(store, MERGING, typed, NOW, environ) == message
    assert store.all(REVEALS) == [] and frame_of(store)[1] is None


def test_a_reveal_publishes_the_test_scores_once_and_ranks_by_the_test_average(store):
    answer = reveal_hidden_test(store, MERGING, TOKEN, NOW, ORGANISER)
    assert answer.startswith("Revealed the hidden test of LLM Merging Competition: the test scores of 4 entries")
    (record,) = store.all(REVEALS)
    assert record["revealed_at"] == NOW.isoformat()
    assert record["entries"]["m-alpha"] == {"scores": {"test_cosmos_qa": 31.4159, "test_xsum": 27.1828},
                                            "average": 29.29935}
    frame, revealed = frame_of(store)
    assert revealed.first_at == NOW.isoformat()
    ranked = frame[frame["rank"].notna()]
    assert ranked["id"].tolist()[:3] == ["m-beta", "m-alpha", "m-gamma"]  # by test average
    assert ranked["rank"].tolist()[:3] == [1, 2, 3]
    rest = ranked["id"].tolist()[3:]  # without test scores: by validation average, published rows included
    published = [f"published-merging-{row['id']}" for row in csv.DictReader((PUBLISHED_DIR / "merging.csv").open(encoding="utf-8"))]
    assert rest == published + ["m-delta"]  # in published order; 35.0 after 37.1
    assert frame["id"].tolist()[-1] == "m-smoke"  # a smoke run stays unranked, whatever its test score
    by_id = frame.set_index("id")
    for result_id, gap in GAPS.items():
        assert by_id.loc[result_id, "gap"] == pytest.approx(gap)
    assert math.isnan(by_id.loc["m-delta", "gap"]) and math.isnan(by_id.loc[published[0], "test_average"])
    assert (by_id.loc["m-beta", "test_cosmos_qa"], by_id.loc["m-beta", "test_xsum"]) == (45.6789, 41.2345)

    validation, test = [60.0, 50.0, 40.0], [29.29935, 43.4567, 15.5555]  # alpha, beta, gamma (ranked, both)
    found = correlation(frame, "average", "test_average")
    assert found.n == 3
    assert found.pearson == pytest.approx(statistics.correlation(validation, test))
    assert found.spearman == pytest.approx(0.5)  # ranks (3, 2, 1) vs (2, 3, 1): 1 − 6·2 / (3·8)

    about = about_markdown(MERGING, revealed)
    assert "**Status: revealed** on 2026-04-01" in about


def test_a_later_reveal_adds_only_new_entries_and_never_changes_a_revealed_one(store):
    reveal_hidden_test(store, MERGING, TOKEN, NOW, ORGANISER)
    (first,) = store.all(REVEALS)
    assert reveal_hidden_test(store, MERGING, TOKEN, NOW.replace(hour=13), ORGANISER) == (
        "The private store holds no entry that has not been revealed already for LLM Merging Competition. "
        "Nothing was revealed.")
    store.put(HIDDEN_SCORES, hidden("m-delta", 20.0, 22.0, 21.0))  # scored later
    store.put(HIDDEN_SCORES, hidden("m-alpha", 99.0, 99.0, 99.0))  # a re-run: the revealed scores stand
    assert "the test scores of 1 entry are now public" in reveal_hidden_test(store, MERGING, TOKEN,
                                                                              NOW.replace(hour=14), ORGANISER)
    records = store.all(REVEALS)
    assert len(records) == 2 and first in records
    second = next(r for r in records if r != first)
    assert list(second["entries"]) == ["m-delta"]
    by_id = frame_of(store)[0].set_index("id")
    assert by_id.loc["m-alpha", "test_average"] == 29.29935 and by_id.loc["m-delta", "test_average"] == 21.0
    assert frame_of(store)[1].first_at == NOW.isoformat()


def test_a_reveal_without_hidden_scores_writes_nothing(tmp_path):
    store = LocalStore(tmp_path / "empty")
    store.put("results", RESULTS[0])
    assert "holds no hidden-test scores yet" in reveal_hidden_test(store, MERGING, TOKEN, NOW, ORGANISER)
    assert store.all(REVEALS) == []


def test_details_show_the_recipe_escaped_the_pinned_components_and_after_the_reveal_the_test_scores(store):
    details = lookup_details(store, "m-alpha")
    assert "<pre class=\"merge-recipe\"><code>merge_method: linear" in details
    assert "# &lt;script&gt;alert('recipe')&lt;/script&gt; | a pipe\n</code></pre>" in details
    assert "<script>" not in details
    assert f"| org/math-7b | {'a' * 40} | model |" in details and f"| org/chat-7b | {'b' * 40} | model |" in details
    assert f"| Merged weights sha256 | {'f00d' * 16} |" in details
    assert "Hidden test" not in details
    reveal_hidden_test(store, MERGING, TOKEN, NOW, ORGANISER)
    revealed = lookup_details(store, "m-alpha")
    assert "| CosmosQA (test) | 31.42 |" in revealed and "| **Test average** | **29.30** |" in revealed
    assert "| Gap (test − validation) | -30.70 |" in revealed
    assert "this entry has no test scores" in lookup_details(store, "m-delta")
