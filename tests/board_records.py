"""Result records for board tests."""


def result(record_id: str, team: str, average: float, comm_gb=None, date="", base="Qwen2.5-7B-Instruct",
           challenge="general_nlp", source="evaluated", **scores):
    return {
        "id": record_id, "challenge": challenge, "team": team, "average": average, "comm_gb": comm_gb,
        "date": date, "base_model": base, "source": source, "scores": scores, "model_repo": f"{team}/adapter",
        "provenance": {},
    }


def finish(store, record, state="FINISHED"):
    """Store ``record`` as a worker does: the result first, then its request marked FINISHED naming it (how the
    boards find a result that no aggregate holds yet)."""
    store.put("results", record)
    store.put("requests", {"id": record.get("request_id") or f"req-{record['id']}", "state": state,
                           "submitted_at": "2026-01-14T09:00:00+00:00", "challenge": record["challenge"],
                           "heartbeat_at": "2026-01-14T09:20:00+00:00",
                           "team": record.get("team"), "result_id": record["id"],
                           **({"rechecks": record["rechecks"]} if record.get("rechecks") else {})})


def aggregated(store, records, built_at="2026-01-14T09:00:00+00:00"):
    """Store ``records`` as rows of their challenges' aggregated boards, as an earlier run of the boards job
    left them (the results themselves are stored too, as the worker wrote them)."""
    by_challenge = {}
    for record in records:
        store.put("results", record)
        by_challenge.setdefault(record["challenge"], []).append(record)
    for challenge, rows in by_challenge.items():
        store.put("boards", {"id": challenge, "challenge": challenge, "built_at": built_at, "rows": rows})
