"""Bradley–Terry arena ratings against hand-computed values."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from arena.ratings import COLUMNS, arena_ratings

PLAIN = 1e-9  # prior small enough that the fit is the plain maximum likelihood estimate


def _by_entry(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {row.entry: row for row in frame.itertuples()}


def test_two_entries_differ_by_400_log10_of_the_win_ratio():
    votes = [("x", "y", "a")] * 3 + [("x", "y", "b")]
    rows = _by_entry(arena_ratings(votes, prior=PLAIN, rounds=0))
    assert rows["x"].rating - rows["y"].rating == pytest.approx(400 * math.log10(3), abs=1e-4)
    assert (rows["x"].wins, rows["x"].losses, rows["y"].wins, rows["y"].votes) == (3, 1, 1, 4)


def test_symmetric_record_gives_equal_ratings_at_the_anchor():
    votes = [("x", "y", "a")] * 5 + [("y", "x", "a")] * 5
    rows = _by_entry(arena_ratings(votes, rounds=0))
    assert rows["x"].rating == pytest.approx(1000) and rows["y"].rating == pytest.approx(1000)


def test_ties_count_as_half_a_win_and_both_bad_as_a_tie():
    # x: 1 win + 1 tie = 1.5 points, y: 0.5 points -> ratio 3
    for tie in ("tie", "both_bad"):
        rows = _by_entry(arena_ratings([("x", "y", "a"), ("x", "y", tie)], prior=PLAIN, rounds=0))
        assert rows["x"].rating - rows["y"].rating == pytest.approx(400 * math.log10(3), abs=1e-4)
        assert rows["x"].ties == 1 and rows["y"].ties == 1


def test_chain_of_comparisons_is_transitive():
    # a tree of comparisons: each edge's MLE is its own log odds, so a - c = 2 * ln 2 on the natural scale
    votes = [("a", "b", "a")] * 2 + [("a", "b", "b")] + [("b", "c", "a")] * 4 + [("b", "c", "b")] * 2
    rows = _by_entry(arena_ratings(votes, prior=PLAIN, rounds=0))
    assert rows["a"].rating - rows["b"].rating == pytest.approx(400 * math.log10(2), abs=1e-4)
    assert rows["a"].rating - rows["c"].rating == pytest.approx(800 * math.log10(2), abs=1e-4)


def test_order_and_sides_of_votes_do_not_matter():
    rng = random.Random(1)
    entries = ["m1", "m2", "m3", "m4"]
    votes = []
    for _ in range(150):
        a, b = rng.sample(entries, 2)
        votes.append((a, b, rng.choice(["a", "a", "b", "tie", "both_bad"])))
    first = arena_ratings(votes, rounds=50, seed=3)
    shuffled = votes[:]
    rng.shuffle(shuffled)
    flipped = [(b, a, {"a": "b", "b": "a"}.get(o, o)) for a, b, o in shuffled]
    pd.testing.assert_frame_equal(first, arena_ratings(flipped, rounds=50, seed=3))
    # online Elo, by contrast, would differ between the two orders: this fit has no order to depend on


def test_bootstrap_intervals_are_seeded_and_shrink_with_more_votes():
    few = [("x", "y", "a")] * 6 + [("x", "y", "b")] * 4 + [("y", "z", "tie"), ("x", "z", "a"), ("z", "y", "a")]
    many = few * 20
    a = arena_ratings(few, seed=1)
    assert a.equals(arena_ratings(few, seed=1))
    assert not a.equals(arena_ratings(few, seed=2))
    b = arena_ratings(many, seed=1)
    assert ((a.ci_low <= a.rating) & (a.rating <= a.ci_high)).all()
    assert ((b.ci_high - b.ci_low) < (a.ci_high - a.ci_low)).all()


def test_rank_ranges_follow_overlapping_intervals():
    votes = []
    for rival in ("b", "c"):
        votes += [("a", rival, "a")] * 40 + [("a", rival, "b")] * 2
    votes += [("b", "c", "a")] * 10 + [("b", "c", "b")] * 9
    frame = arena_ratings(votes, seed=0)
    rows = _by_entry(frame)
    assert list(frame.entry) == ["a", "b", "c"] and list(frame["rank"]) == [1, 2, 3]
    assert (rows["a"].rank_best, rows["a"].rank_worst) == (1, 1)
    assert (rows["b"].rank_best, rows["b"].rank_worst) == (2, 3)
    assert (rows["c"].rank_best, rows["c"].rank_worst) == (2, 3)


def test_prior_keeps_undefeated_entries_finite_and_near_the_anchor():
    rows = _by_entry(arena_ratings([("new", "old", "a")], rounds=0))
    assert 1000 < rows["new"].rating < 1200 and 800 < rows["old"].rating < 1000
    plain = _by_entry(arena_ratings([("new", "old", "a")], prior=PLAIN, rounds=0))
    assert plain["new"].rating > rows["new"].rating + 1000  # without a prior it runs off towards infinity


def test_empty_and_invalid_input():
    assert list(arena_ratings([]).columns) == COLUMNS and arena_ratings([]).empty
    with pytest.raises(ValueError, match="unknown outcome"):
        arena_ratings([("x", "y", "x")])
    with pytest.raises(ValueError, match="with itself"):
        arena_ratings([("x", "x", "a")])


def test_matches_an_independent_logistic_regression_fit():
    """The plain MLE equals a Bradley–Terry logistic regression (as Chatbot Arena fits it) up to a shift."""
    rng = random.Random(5)
    entries = ["m1", "m2", "m3", "m4", "m5"]
    votes = [(*rng.sample(entries, 2), rng.choice(["a", "a", "b", "tie"])) for _ in range(300)]
    x, y, w = [], [], []
    for a, b, outcome in votes:
        row = np.zeros(len(entries))
        row[entries.index(a)], row[entries.index(b)] = 1.0, -1.0
        share = {"a": 1.0, "b": 0.0}.get(outcome, 0.5)
        x += [row, row]
        y += [1, 0]
        w += [share, 1.0 - share]
    model = LogisticRegression(fit_intercept=False, C=1e9, tol=1e-12, max_iter=10_000)
    model.fit(np.array(x), np.array(y), sample_weight=np.array(w))
    expected = 400 / math.log(10) * model.coef_[0]
    rows = _by_entry(arena_ratings(votes, prior=PLAIN, rounds=0))
    ours = np.array([rows[e].rating for e in entries])
    assert np.allclose(ours - ours.mean(), expected - expected.mean(), atol=0.01)


def test_an_entry_below_the_minimum_is_provisional_without_a_rank():
    """One vote used to give rank 1 and "95 % CI +0 / −0": below ``min_votes`` rated votes an entry has no
    rank or rank range (they would mean nothing) and sorts after every settled entry."""
    votes = [("x", "y", "a")] * 6 + [("x", "y", "b")] * 4 + [("fresh", "y", "a")]
    frame = arena_ratings(votes, seed=0, min_votes=3)
    assert list(frame.entry) == ["x", "y", "fresh"]  # "fresh" beat y once (rated above it) but sorts last
    rows = _by_entry(frame)
    assert rows["fresh"].rating > rows["y"].rating
    assert list(frame.provisional) == [False, False, True]
    assert list(frame["rank"][:2]) == [1, 2] and pd.isna(frame["rank"][2])
    assert pd.isna(rows["fresh"].rank_best) and pd.isna(rows["fresh"].rank_worst)
    single = arena_ratings([("new", "old", "a")], seed=0, min_votes=10)
    assert single.provisional.all() and single["rank"].isna().all()
    settled = arena_ratings(votes, seed=0)  # min_votes=0: nothing is provisional
    assert not settled.provisional.any() and list(settled["rank"]) == [1, 2, 3]
