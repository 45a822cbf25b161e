"""Arena ratings: a Bradley–Terry model fitted by maximum likelihood, as Chatbot Arena does (not online Elo,
whose result depends on the order of the votes).

Model: P(i beats j) = 1 / (1 + exp(r_j - r_i)). A tie counts as half a win and half a loss for each side
(the standard way to keep ties in the likelihood; "both bad" is a tie too). Ratings are shown on the Elo
scale, ``1000 + r * 400 / ln 10``, so a 400-point gap means 10:1 odds.

Regularisation, documented because it changes numbers: every entry also plays ``prior`` virtual ties against
a fixed reference rated 1000. Without it an undefeated entry has an infinite MLE rating and entries in
separate groups (never compared) have no common scale; with it, a new entry starts at 1000 and moves as votes
come in. With ``prior`` near 0 the fit is the plain MLE (e.g. two entries with w wins to l losses differ by
exactly ``400 * log10(w / l)``).

An entry with fewer than ``min_votes`` votes is *provisional*: its rating is shown but it has no rank or rank
range (after one vote the bootstrap interval is "+0 / −0" and a rank of 1 means nothing), and it sorts after
every settled entry. Ranks and rank ranges are counted among settled entries only.

Everything is a pure function of the *multiset* of votes: votes are aggregated into canonical counts first, so
their order or which side an entry sat on never changes a rating, and the bootstrap (resampling votes with
replacement, seeded) gives the same intervals for the same votes.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

ELO_SCALE = 400 / math.log(10)
ANCHOR = 1000.0
OUTCOMES = ("a", "b", "tie", "both_bad")
COLUMNS = ["entry", "rating", "ci_low", "ci_high", "votes", "wins", "losses", "ties", "provisional", "rank",
           "rank_best", "rank_worst"]

# One vote: (entry on side A, entry on side B, outcome in OUTCOMES).
Vote = tuple[str, str, str]


def _categories(votes: Iterable[Vote]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Entries (sorted) and the distinct vote kinds as rows (i, j, score of i in {0, 0.5, 1}) with i < j,
    each with its count; sorted, so that the result does not depend on vote order or sides."""
    kinds: dict[tuple[str, str, float], int] = {}
    for a, b, outcome in votes:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        if a == b:
            raise ValueError(f"a vote compares {a!r} with itself")
        score = {"a": 1.0, "b": 0.0}.get(outcome, 0.5)
        if b < a:
            a, b, score = b, a, 1.0 - score
        kinds[(a, b, score)] = kinds.get((a, b, score), 0) + 1
    entries = sorted({name for a, b, _ in kinds for name in (a, b)})
    index = {name: i for i, name in enumerate(entries)}
    keys = sorted(kinds)
    table = np.array([(index[a], index[b], s) for a, b, s in keys], dtype=float).reshape(-1, 3)
    counts = np.array([kinds[k] for k in keys], dtype=float)
    return entries, table, counts


def _fit(n: int, table: np.ndarray, counts: np.ndarray, prior: float) -> np.ndarray:
    """Natural-scale strengths maximising the (prior-regularised) likelihood, by Newton's method.

    The objective is strictly concave when ``prior > 0``, so Newton converges to the unique optimum in a few
    steps; a backtracking line search keeps every step an improvement.
    """
    i, j, score = table[:, 0].astype(int), table[:, 1].astype(int), table[:, 2]
    wins_i, wins_j = counts * score, counts * (1.0 - score)

    def objective(r: np.ndarray) -> float:
        d = r[i] - r[j]
        ll = -(wins_i * np.logaddexp(0.0, -d) + wins_j * np.logaddexp(0.0, d)).sum()
        return float(ll - prior * np.logaddexp(0.0, -r).sum() * 0.5 - prior * np.logaddexp(0.0, r).sum() * 0.5)

    r = np.zeros(n)
    for _ in range(100):
        d = r[i] - r[j]
        p = 1.0 / (1.0 + np.exp(-d))  # P(i beats j)
        g_pair = wins_i * (1.0 - p) - wins_j * p
        grad = np.bincount(i, g_pair, n) - np.bincount(j, g_pair, n) + prior * (0.5 - 1.0 / (1.0 + np.exp(-r)))
        w = counts * p * (1.0 - p)
        q = 1.0 / (1.0 + np.exp(-r))
        hess = np.diag(np.bincount(i, w, n) + np.bincount(j, w, n) + prior * q * (1.0 - q))
        np.add.at(hess, (i, j), -w)
        np.add.at(hess, (j, i), -w)
        step = np.linalg.solve(hess, grad)
        current, t = objective(r), 1.0
        while objective(r + t * step) < current - 1e-12 and t > 1e-6:
            t /= 2
        r = r + t * step
        if np.max(np.abs(t * step)) < 1e-10:
            break
    return r


def _rank_ranges(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best rank: 1 + entries whose interval lies wholly above; worst: n - entries wholly below."""
    above = (low[None, :] > high[:, None]).sum(axis=1)
    below = (high[None, :] < low[:, None]).sum(axis=1)
    return 1 + above, len(low) - below


def arena_ratings(
    votes: Iterable[Vote],
    *,
    prior: float = 1.0,
    rounds: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    min_votes: int = 0,
) -> pd.DataFrame:
    """One row per entry, settled entries best first, then provisional ones (fewer than ``min_votes`` votes)
    best first: rating, bootstrap interval, vote counts, and for settled entries rank and rank range.

    ``rounds`` bootstrap refits (0 for none: the interval is then the rating itself).
    """
    if prior <= 0:
        raise ValueError("prior must be > 0 (use a tiny value such as 1e-9 for the plain MLE)")
    entries, table, counts = _categories(votes)
    if not entries:
        return pd.DataFrame({c: [] for c in COLUMNS})
    n = len(entries)
    rating = ANCHOR + ELO_SCALE * _fit(n, table, counts, prior)
    if rounds > 0:
        rng = np.random.default_rng(seed)
        samples = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=rounds)
        boot = np.array([_fit(n, table, c.astype(float), prior) for c in samples]) * ELO_SCALE + ANCHOR
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(boot, [tail, 100 - tail], axis=0)
    else:
        low, high = rating.copy(), rating.copy()

    i, j, score = table[:, 0].astype(int), table[:, 1].astype(int), table[:, 2]
    wins = np.bincount(i, counts * (score == 1), n) + np.bincount(j, counts * (score == 0), n)
    losses = np.bincount(i, counts * (score == 0), n) + np.bincount(j, counts * (score == 1), n)
    ties = np.bincount(i, counts * (score == 0.5), n) + np.bincount(j, counts * (score == 0.5), n)
    frame = pd.DataFrame(
        {
            "entry": entries,
            "rating": rating,
            "ci_low": low,
            "ci_high": high,
            "votes": (wins + losses + ties).astype(int),
            "wins": wins.astype(int),
            "losses": losses.astype(int),
            "ties": ties.astype(int),
            "provisional": (wins + losses + ties) < min_votes,
        }
    )
    frame = frame.sort_values(["provisional", "rating", "entry"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)
    settled = ~frame["provisional"].to_numpy()
    best, worst = _rank_ranges(frame["ci_low"].to_numpy()[settled], frame["ci_high"].to_numpy()[settled])
    for column, values in (("rank", np.arange(1, settled.sum() + 1)), ("rank_best", best), ("rank_worst", worst)):
        frame[column] = pd.array([pd.NA] * n, dtype="Int64")
        frame.loc[settled, column] = values
    return frame[COLUMNS]
