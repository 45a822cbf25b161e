import math

import pandas as pd
import pytest

from leaderboard.ranking import assign_ranks, model_family, pareto_front


def test_rank_by_average_ties_to_earlier_date_then_id():
    frame = pd.DataFrame({
        "id": ["c", "b", "a", "d"],
        "average": [50.0, 60.0, 60.0, 60.0],
        "date": ["2025-01-01", "2025-03-01", "2025-03-01", "2025-02-01"],
    })
    ranked = assign_ranks(frame)
    assert ranked["id"].tolist() == ["d", "a", "b", "c"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4]


def test_missing_average_ranks_last():
    frame = pd.DataFrame({"id": ["x", "y"], "average": [math.nan, 1.0], "date": ["", ""]})
    assert assign_ranks(frame)["id"].tolist() == ["y", "x"]


def test_partial_runs_are_never_ranked_among_real_rows():
    frame = pd.DataFrame({
        "id": ["partial-best", "real-low", "published-high", "partial-low"],
        "average": [99.0, 10.0, 50.0, 1.0],
        "date": ["2025-01-01"] * 4,
        "source": ["partial", "verified", "published", "partial"],
    })
    ranked = assign_ranks(frame)
    assert ranked["id"].tolist() == ["published-high", "real-low", "partial-best", "partial-low"]
    assert ranked["rank"].tolist()[:2] == [1, 2] and ranked["rank"].iloc[2:].isna().all()


def test_pareto_front():
    costs = [0.7, 2.9, 1.5, 44.7, 0.5, None, 2.9]
    scores = [67.78, 69.25, 67.71, 55.64, 12.22, 99.0, 69.19]
    # 0.5 is cheapest; 0.7 beats everything up to 1.5; 2.9/69.25 is best overall; 44.7 is dominated.
    assert pareto_front(costs, scores) == [True, True, False, False, True, False, False]


@pytest.mark.parametrize("name, family", [
    ("Qwen2.5-7B-Instruct", "Qwen"), ("Internlm3-8b-instruct", "InternLM"), ("Phi-4", "Phi"),
    ("TinyLlama-1.1B-Chat-v1.0", "TinyLlama"), ("meta-llama/Llama-3.2-3B", "Llama"),
    ("Llama3.1-Aloe-Beta-8B", "Llama"), ("Gemma2-9b-cpt-sahabatai-v1-instruct", "Gemma"),
    ("mistralai/Mistral-7B-v0.3", "Mistral"), ("SmolLM2-135M", "SmolLM"), ("", "Unknown"), ("gpt2", "Other"),
])
def test_model_family(name, family):
    assert model_family(name) == family
