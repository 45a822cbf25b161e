"""Pure ranking functions: ranks from averages, the cost/score Pareto front, model families."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import pandas as pd


def assign_ranks(frame: pd.DataFrame, by: str = "average") -> pd.DataFrame:
    """Order rows by ``by`` (best first; rows without it follow, by average) and number them 1..n.

    Ties on the average go to the earlier date (who got there first), then to the record id, which keeps
    imported rows in their published order. Ranks are unique, as on the published boards.

    Rows whose ``source`` is ``partial`` (smoke runs: local data or a question limit) get no rank (``<NA>``) and
    follow the ranked rows: their scores are not comparable with real evaluations.
    """
    keys = [by, "average"] if by != "average" else ["average"]
    ordered = frame.sort_values(
        [*keys, "date", "id"], ascending=[False] * len(keys) + [True, True], na_position="last", kind="stable"
    ).reset_index(drop=True)
    unranked = (ordered["source"] == "partial") if "source" in ordered.columns else pd.Series(False, ordered.index)
    ordered = pd.concat([ordered[~unranked], ordered[unranked]], ignore_index=True)
    ranked = int((~unranked).sum())
    ordered["rank"] = pd.array(list(range(1, ranked + 1)) + [pd.NA] * (len(ordered) - ranked), dtype="Int64")
    return ordered


@dataclass(frozen=True)
class Correlation:
    pearson: float
    spearman: float
    n: int  # ranked entries with both numbers


def correlation(frame: pd.DataFrame, x: str, y: str) -> Correlation | None:
    """Pearson and Spearman (Pearson on average ranks) correlation of two columns over the ranked rows that have
    both; None for fewer than 3 such rows or when either column is constant (no correlation is defined)."""
    ranked = frame[frame["rank"].notna()] if "rank" in frame.columns else frame
    both = ranked[[x, y]].dropna()
    if len(both) < 3 or both[x].nunique() < 2 or both[y].nunique() < 2:
        return None
    ranks = both.rank(method="average")
    return Correlation(float(both[x].corr(both[y])), float(ranks[x].corr(ranks[y])), len(both))


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[bool]:
    """For each point, whether no other point has lower-or-equal cost and a higher-or-equal score
    with at least one strictly better (the best score for its budget). Missing costs are never on it."""
    points = sorted(
        (cost, -score, i)
        for i, (cost, score) in enumerate(zip(costs, scores))
        if cost is not None and not math.isnan(cost) and score is not None and not math.isnan(score)
    )
    on_front = [False] * len(costs)
    best = -math.inf
    for cost, neg_score, index in points:
        if -neg_score > best:
            on_front[index] = True
            best = -neg_score
    return on_front


_FAMILIES = (
    ("InternLM", r"internlm"),
    ("Qwen", r"qwen"),
    ("TinyLlama", r"tinyllama"),
    ("Llama", r"llama"),
    ("Gemma", r"gemma"),
    ("Mistral", r"mistral|mixtral"),
    ("Phi", r"\bphi[-_]?\d"),
    ("SmolLM", r"smollm"),
    ("Falcon", r"falcon"),
    ("DeepSeek", r"deepseek"),
    ("OLMo", r"olmo"),
    ("T5", r"\bt5|flan"),
)


def model_family(base_model: str | None) -> str:
    """A coarse family name for a base model ("Qwen2.5-7B-Instruct" -> "Qwen"), for filtering."""
    if not base_model:
        return "Unknown"
    name = base_model.lower().rsplit("/", 1)[-1]
    for family, pattern in _FAMILIES:
        if re.search(pattern, name):
            return family
    return "Other"
