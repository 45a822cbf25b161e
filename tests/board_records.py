"""Result records for board tests."""


def result(record_id: str, team: str, average: float, comm_gb=None, date="", base="Qwen2.5-7B-Instruct",
           challenge="general_nlp", source="evaluated", **scores):
    return {
        "id": record_id, "challenge": challenge, "team": team, "average": average, "comm_gb": comm_gb,
        "date": date, "base_model": base, "source": source, "scores": scores, "model_repo": f"{team}/adapter",
        "provenance": {},
    }
