"""A submission's checks read only their scope of the stored requests (the team's, the account's and the repo's;
the queue position is counted by index), on SQLite and a real PostgreSQL, and decide exactly as the check over
every stored request did; and a database made before the scope columns is upgraded once when replicas open it
together."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
    select,
    update,
)

from challenges.definitions import Challenge, challenges
from store.base import LocalStore, Record
from store.sql import SqlStore
from store.sql_schema import (
    QUEUE_FIELDS,
    SCOPE_FIELDS,
    SEQ,
    counters,
    make_engine,
    records,
)
from store.states import FINISHED, PENDING
from submissions.form_text import team_key
from submissions.rules import check_rate_limit, find_duplicate
from submissions.service import Outcome, queue_position, queue_request, request_record
from tests.concurrency import run_in_threads

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
OTHERS = 20_000
COMMIT = "c" * 40


def stored_request(record_id: str, team: str, repo_id: str, *, state: str = FINISHED, days_ago: float = 1,
                   account: str | None = None, challenge: str = "general_nlp", **extra) -> Record:
    return {"id": record_id, "challenge": challenge, "team": team, "team_key": team_key(team), "account": account,
            "repo_id": repo_id, "commit": COMMIT, "state": state, "attempts": 0,
            "submitted_at": (NOW - timedelta(days=days_ago)).isoformat(), **extra}


def seeded_requests() -> list[Record]:
    """20k requests of other teams (every 500th PENDING), plus the histories the cases below run into."""
    others = [stored_request(f"other-{i:05d}", f"Other {i % 5000}", f"other/adapter-{i}", account=f"acct{i % 5000}",
                             state=PENDING if i % 500 == 0 else FINISHED, days_ago=(i % 3000) / 100)
              for i in range(OTHERS)]
    return others + [
        stored_request("alpha-1", "Alpha", "alpha/a1"), stored_request("alpha-2", "Alpha", "alpha/a2", days_ago=2),
        stored_request("beta-1", "Beta", "beta/b1", days_ago=10), stored_request("beta-2", "Beta", "beta/b2", days_ago=9),
        stored_request("gamma-1", "Gamma", "gamma/g1"),
        stored_request("gamma-2", "Gamma", "gamma/g2", state="FAILED", failure={"reason": "oom", "cause": "evaluator"}),
        stored_request("carol-1", "Carol One", "carol/c1", account="carol"),
        stored_request("carol-2", "Carol Two", "carol/c2", account="carol"),
        stored_request("delta-1", "Delta", "delta/d1", state="FAILED", failure={"reason": "bad adapter"}),
        stored_request("alpha-m", "Alpha", "recipe:ties:org/m", challenge="merging", days_ago=3),
    ]


def new_request(team: str, repo_id: str, account: str | None = None, challenge: str = "general_nlp") -> Record:
    return request_record(challenges()[challenge], NOW, team=team, account=account, description="",
                          kind="adapter", repo_id=repo_id, revision="main", commit=COMMIT)


# (team, repo, account, challenge): each case runs after the ones above it, so later ones see earlier queuings
CASES = [
    ("Newcomer", "new/adapter", "newbie", "general_nlp"),  # queued behind every PENDING request (counted, not read)
    ("Alpha", "alpha/a3", None, "general_nlp"),  # the team's limit
    ("ALPHA", "alpha/a4", None, "general_nlp"),  # a spelling of the same team
    ("Beta", "beta/b3", None, "general_nlp"),  # its requests are older than the window
    ("Gamma", "gamma/g3", None, "general_nlp"),  # a request the evaluator failed does not count
    ("Carol Three", "carol/c3", "carol", "general_nlp"),  # the account's limit under a new team name
    ("Epsilon", "other/adapter-500", None, "general_nlp"),  # a duplicate of a PENDING request: its position
    ("Epsilon", "other/adapter-1", None, "general_nlp"),  # a duplicate of a finished one
    ("Delta", "delta/d1", None, "general_nlp"),  # a failed request may be submitted again
    ("Newcomer", "new/adapter", "newbie", "general_nlp"),  # our own first request, as a duplicate
    ("Newcomer", "new/adapter-2", "newbie", "general_nlp"),  # the team's second: queued
    ("Newcomer", "new/adapter-3", "newbie", "general_nlp"),  # the third: refused
    ("Alpha", "recipe:ties:org/n", None, "merging"),  # a recipe (no duplicate check): its day's limit is free
    ("Alpha", "recipe:ties:org/o", None, "merging"),  # then taken
]


def full_snapshot_outcome(requests: list[Record], challenge: Challenge, request: Record,
                          check_duplicate: bool) -> tuple:
    """What queue_request decided before it was scoped: the same rules over every stored request."""
    duplicate = check_duplicate and find_duplicate(requests, challenge.id, request["repo_id"], request["commit"])
    if duplicate:
        return "duplicate", [], duplicate["id"], queue_position(requests, duplicate["id"])
    limited = check_rate_limit(challenge, requests, request["team"], request["account"], NOW)
    if limited:
        return "refused", limited, None, None
    return "queued", [], request["id"], queue_position([*requests, request], request["id"])


def summary(outcome: Outcome) -> tuple:
    return outcome.status, outcome.reasons, outcome.request and outcome.request["id"], outcome.position


def test_each_check_reads_only_its_scope_and_decides_as_the_full_snapshot_did(sql_url, sql_rows_parsed):
    SqlStore(sql_url).put_missing("requests", seeded_requests())
    auditor, replica = SqlStore(sql_url), SqlStore(sql_url)  # a fresh replica submits, as after a restart
    seen = []
    for team, repo_id, account, challenge_id in CASES:
        challenge, request = challenges()[challenge_id], new_request(team, repo_id, account, challenge_id)
        check_duplicate = challenge.limits.submission_kind != "merge"
        expected = full_snapshot_outcome(auditor.all("requests"), challenge, request, check_duplicate)
        sql_rows_parsed.clear()
        outcome = queue_request(replica, challenge, request, "", NOW, check_duplicate=check_duplicate)
        seen.append((outcome.status, sql_rows_parsed["rows"]))
        assert summary(outcome) == expected, (team, repo_id)
        assert sql_rows_parsed["rows"] <= 5, f"{team} {repo_id}: {sql_rows_parsed['rows']} rows parsed"
    assert [status for status, _ in seen] == ["queued", "refused", "refused", "queued", "queued", "refused",
                                              "duplicate", "duplicate", "queued", "duplicate", "queued", "refused",
                                              "queued", "refused"]
    assert len(auditor.all("requests")) == OTHERS + 10 + 6


def test_a_team_racing_over_its_limit_from_two_replicas_queues_exactly_the_limit(sql_url):
    replicas = [SqlStore(sql_url), SqlStore(sql_url)]
    challenge = challenges()["general_nlp"]
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        outcome = queue_request(replicas[n % 2], challenge, new_request("Racer", f"racer/a{n}"), "", NOW)
        with lock:
            outcomes.append(outcome)

    run_in_threads(submit, 12)
    assert Counter(o.status for o in outcomes) == {"queued": challenge.limits.per_team_count,
                                                   "refused": 12 - challenge.limits.per_team_count}
    queued = sorted(o.request["id"] for o in outcomes if o.status == "queued")
    assert [r["id"] for r in replicas[0].all("requests")] == queued


def test_every_query_of_a_check_searches_an_index_on_all_its_fields(tmp_path):
    """SQLite plans without statistics: a scope's query must find an index naming each of its fields (one on the
    challenge alone made it walk every request of the challenge)."""
    store = SqlStore(f"sqlite:///{tmp_path / 'live.sqlite3'}")
    store.put_missing("requests", seeded_requests()[-10:])
    queries: list[tuple[str, tuple]] = []

    def seen(_conn, _cursor, statement: str, parameters: tuple, *_args) -> None:
        if statement.startswith("SELECT"):
            queries.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", seen)
    outcome = queue_request(store, challenges()["general_nlp"], new_request("Alpha", "alpha/a9", "al"), "", NOW)
    event.remove(store.engine, "before_cursor_execute", seen)
    assert outcome.status == "refused"
    with store.engine.connect() as connection:
        plans = [" ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", parameters))
                 for query, parameters in queries]
    assert len(plans) == 3 and all(plan.startswith("SEARCH records USING INDEX") for plan in plans), plans
    for plan, field in zip(plans, ("team_key", "account", "repo_id"), strict=True):
        assert f"{field}=? AND challenge=?" in plan, plan


def test_the_store_counts_queue_positions_as_the_list_does(sql_url):
    store = SqlStore(sql_url)
    stored = [stored_request(f"{prefix}-{n}", "T", f"t/{prefix}{n}", state=PENDING if n % 4 else FINISHED,
                             days_ago=n % 3) for n in range(12) for prefix in ("a", "B", "b-x", "b_x")]
    store.put_missing("requests", stored)
    assert {r["id"]: store.position("requests", r["id"], ("submitted_at", "id"), state=PENDING) for r in stored} \
        == {r["id"]: queue_position(stored, r["id"]) for r in stored}
    assert store.position("requests", "missing", ("submitted_at", "id"), state=PENDING) is None


def test_the_default_filters_the_snapshot_by_the_same_scopes(tmp_path):
    store = LocalStore(tmp_path)
    store.put_missing("requests", [stored_request("a", "Alpha", "x/a"), stored_request("b", "Beta", "x/b", state=PENDING),
                                   stored_request("c", "Gamma", "x/c", account="carol")])
    scopes = [{"team_key": "alpha", "challenge": "general_nlp"}, {"state": PENDING}, {"account": "carol",
                                                                                      "challenge": "merging"}]
    assert store.transact_where("requests", scopes, lambda found: ([], sorted(found))) == ["a", "b"]
    assert store.position("requests", "b", ("submitted_at", "id"), state=PENDING) == 1
    assert store.position("requests", "a", ("submitted_at", "id"), state=PENDING) is None


def old_records_table() -> Table:
    """``records`` as the version before the scope columns created it."""
    return Table(
        "records", MetaData(),
        Column("collection", String(40), primary_key=True), Column("id", String(200), primary_key=True),
        Column("seq", BigInteger, nullable=False), *(Column(name, String(200)) for name in QUEUE_FIELDS),
        Column("body", Text, nullable=False), Column("deleted", Boolean, nullable=False, default=False),
        Index("records_by_seq", "collection", "seq"))


def test_a_table_of_the_previous_version_gets_the_columns_filled_once(sql_url):
    engine = make_engine(sql_url)
    old = old_records_table()
    old.metadata.create_all(engine)
    counters.create(engine)
    bodies = [("requests", stored_request("r1", "Alpha", "alpha/a1", account="al")),
              ("requests", stored_request("r2", "Beta", "beta/b1", state=PENDING, rechecks="published-x")),
              ("votes", {"id": "v1", "board": "general_nlp", "conversation_id": "c1", "outcome": "a",
                         "created_at": NOW.isoformat(), "a": {"entry": "x"}, "b": {"entry": "y"}, "voter": "h"})]
    rows = [{"collection": c, "id": b["id"], "seq": n, "state": b.get("state"), "voter": b.get("voter"),
             "body": json.dumps(b), "deleted": False} for n, (c, b) in enumerate(bodies, start=1)]
    rows.append({"collection": "requests", "id": "broken", "seq": 4, "state": None, "voter": None, "body": "{not json",
                 "deleted": False})
    with engine.begin() as connection:
        connection.execute(insert(old), rows)
        connection.execute(insert(counters).values(name=SEQ, value=4))
    statements: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        opened: list[SqlStore] = []
        run_in_threads(lambda _: opened.append(SqlStore(sql_url)), 2)  # two replicas start together
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(opened) == 2
    assert sum(s.startswith("ALTER TABLE") for s in statements) == len(SCOPE_FIELDS)  # once, not per replica
    with engine.connect() as connection:
        filled = {row.id: tuple(row[1:]) for row in connection.execute(
            select(records.c.id, *(records.c[name] for name in SCOPE_FIELDS)).order_by(records.c.id))}
    assert filled == {"broken": (None,) * 5, "r1": ("alpha", "al", "alpha/a1", "general_nlp", None),
                      "r2": ("beta", None, "beta/b1", "general_nlp", "published-x"), "v1": (None,) * 5}
    store = opened[0]
    scopes = [{"team_key": "alpha", "challenge": "general_nlp"}, {"state": PENDING}]
    assert store.transact_where("requests", scopes, lambda found: ([], sorted(found))) == ["r1", "r2"]
    assert [item.record_id for item in store.quarantined()] == []  # "broken" is in no scope, so not read

    with engine.begin() as connection:  # a later open finds the columns and fills nothing again
        connection.execute(update(records).where(records.c.id == "r1").values(team_key="kept"))
    SqlStore(sql_url)
    with engine.connect() as connection:
        assert connection.execute(select(records.c.team_key).where(records.c.id == "r1")).scalar() == "kept"


def test_a_submission_in_progress_holds_back_only_its_own_scopes_not_the_workers(postgres_url) -> None:
    """On PostgreSQL a submission holds its team/account/repo scopes, not the whole queue: a worker's heartbeat
    and another team's submission finish while it decides; a second submission of the same team waits for it
    and then sees its write."""
    store = SqlStore(postgres_url)
    store.put_missing("requests", [stored_request("running", "Busy", "busy/adapter", state="RUNNING", worker="gpu-1")])
    deciding, release = threading.Event(), threading.Event()
    done: dict[str, object] = {}

    def slow(found: dict[str, Record]) -> tuple[list[Record], int]:
        deciding.set()
        assert release.wait(30)
        return [stored_request("alpha-1", "Alpha", "alpha/adapter", state=PENDING)], len(found)

    def alpha_again() -> None:
        done["alpha again"] = store.transact_where("requests", [{"team_key": team_key("Alpha")}],
                                                   lambda found: ([], sorted(found)))

    def heartbeat() -> None:
        done["beat"] = store.update_one("requests", "running",
                                        lambda r: ({**r, "heartbeat_at": NOW.isoformat()}, "beat"))

    def beta() -> None:
        done["beta"] = store.transact_where("requests", [{"team_key": team_key("Beta")}], lambda found: (
            [stored_request("beta-1", "Beta", "beta/adapter", state=PENDING)], "queued"))

    first = threading.Thread(target=lambda: done.setdefault("alpha", store.transact_where(
        "requests", [{"team_key": team_key("Alpha")}], slow)))
    first.start()
    assert deciding.wait(30)
    others = [threading.Thread(target=job) for job in (heartbeat, beta, alpha_again)]
    for thread in others:
        thread.start()
    for thread in others[:2]:
        thread.join(10)
    assert (done.get("beat"), done.get("beta")) == ("beat", "queued")  # not held back by Alpha's decision
    assert "alpha again" not in done  # the same team waits
    release.set()
    first.join(10)
    others[2].join(10)
    assert done["alpha"] == 0 and done["alpha again"] == ["alpha-1"]


def test_a_scoped_step_cannot_write_outside_its_scopes(sql_url) -> None:
    store = SqlStore(sql_url)
    outside = stored_request("gamma-1", "Gamma", "gamma/adapter", state=PENDING)
    try:
        store.transact_where("requests", [{"team_key": team_key("Alpha")}], lambda found: ([outside], None))
    except Exception as error:  # noqa: BLE001 - the message is what the test reads
        assert "outside the scopes" in str(error)
    else:
        raise AssertionError("a write outside the scopes was taken")
    assert store.get("requests", "gamma-1") is None
