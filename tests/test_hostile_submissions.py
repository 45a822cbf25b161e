"""Hostile submit forms, generated: each goes through the real submit service (local Hub, local store).

Each input must be refused with a readable reason and leave nothing behind, or be queued exactly once as a
clean record with its private contact; no exception may escape. The fixed list below and 100 random
combinations run in CI, 2000 with ``RELIABILITY_SWEEP=1``; ``HOSTILE_SWEEP=N`` asks for N exactly (seeded by
``HOSTILE_SEED``, default 0).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from store.base import LocalStore
from submissions.form_text import (
    clean_name,
    mixed_script_words,
    refused_characters,
    team_key,
)
from submissions.hub_models import HubModels, hub_api
from submissions.rules import DESCRIPTION_MAX, SubmissionForm
from submissions.service import submit
from tests.hub_server import HubServer
from tests.sweep import sweep_size
from tests.test_submit_service import SMALL_BASE, adapter

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
GOOD = SubmissionForm(challenge_id="general_nlp", repo_id="team/adapter", team="Team A", comm_gb="3.5",
                      code_url="https://github.com/team/fl", base_model="org/small-base",
                      contact_email="lead@team.org", description="LoRA r=4, FedAvg.")
TEXT_FIELDS = ("challenge_id", "repo_id", "revision", "team", "code_url", "comm_gb", "base_model", "contact_email",
               "description", "num_clients", "num_rounds")
MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>",
          "[click](javascript:alert(1))", "{{7*7}}${7*7}"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u202d", "\u2066", "\u2067",
             "\u2069", "\u061c", "\x00", "\x07", "\x1b[31m", "\r", "\u2028", "\u2029", "\ue000"]
ODD_NUMBERS = ["1,000", "1.000,5", "2,9", "1_0", "\uff11\uff10", "\u0661\u0660", "\u06f1\u06f0", "\u0967\u0966",
               "1e-400", "1e400", "1e3", "2E2", "inf", "-inf", "Infinity", "nan", "NaN", "-1", "-0", "+5", "0x10",
               "0b1", "0o7", "1/2", "\u00bd", "\u00b2", "3.5.1", ".", "1 000", "1\u00a0000", "200.0000001",
               "199.99999999999999999999", "00000200", "0", "5.", ".5", "9" * 400, "200.00000000000000001"]
HOMOGLYPH_TEAMS = ["\u0415vade", "\u0395vade", "\u0395V\u0391D\u0395", "\uff25\uff56\uff41\uff44\uff45",
                   "\U0001d404\U0001d42f\U0001d41a\U0001d41d\U0001d41e", "Evade\u0301", "E\u0337v\u0337a\u0337d\u0337e",
                   "\u216bicrosoft", "\ufb01re team", "Team\u00a0A", "Team\u3000A", "Команда",
                   "\u0440\u0430\u0443\u0440\u0430l", "\u13aadmin", "T\u0435am A", "\u2167 Legion",
                   "\uff34\uff45\uff41\uff4d\u3000\uff21"]
BAD_REPOS = ["", " ", "noslash", "a/b/c", "../../etc/passwd", "..", "/", "team/", "/adapter", "team/../adapter",
             "team\\adapter", "team/adapter%2e%2e", "te--am/adapter", "team/ad..apter", "a" * 97 + "/x",
             "team/" + "a" * 200, "https://huggingface.co/team/adapter", "team/adapter@main",
             "\uff54\uff45\uff41\uff4d/adapter", "team/\u0430dapter", "team/adapter?x=1", "team/adapter#f", "~/adapter",
             "team/ adapter", " team/adapter ", "team/missing", "team/private-adapter", "team/not-an-adapter",
             "org/small-base"]
BAD_REVISIONS = ["../main", "main; rm -rf /", "refs/../../x", "-rf", " ", "a" * 200, "v1", "$(id)", "main..dev",
                 "0" * 40, "deadbeef", "refs/heads/main", "main"]
BAD_EMAILS = ["a@b.org\r\nBcc: x@y.org", "a@b.org\nX-Header: y", "a@b", "@b.org", "a@@b.org", "<a@b.org>",
              "\"a\"@b.org", "a b@c.org", "\uff41@\uff42.org", "x" * 65 + "@b.org", "a@" + "b" * 300 + ".org",
              "a@b.org,c@d.org", "mailto:a@b.org", "", "a@b.org" + "\u202e"]
BAD_URLS = ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "http://", "//github.com/x",
            "https://github.com/x\"onmouseover=\"alert(1)", "https://github.com/x'", "https://g\u0456thub.com/x",
            "https://xn--gthub-n4a.com/x", "http://127.0.0.1:99999/x", "HTTPS://GITHUB.COM/x", "file:///etc/passwd",
            "https://github.com/x y", "https://github.com/" + "x" * 400, "", "ftp://github.com/x"]
BAD_CHALLENGES = ["", "GENERAL_NLP", "general_nlp ", "../general_nlp", "merging", "finance", "general_nlp\x00",
                  "<script>", "x" * 10_000, "medical"]
GIANTS = {"team": "T" * 100_000, "description": "d" * 1_000_000, "contact_email": "e" * 10_000 + "@b.org",
          "code_url": "https://github.com/" + "u" * 10_000, "repo_id": "o/" + "r" * 10_000, "revision": "v" * 10_000,
          "base_model": "b" * 10_000, "comm_gb": "1" * 10_000, "num_clients": "7" * 5000}


def hostile_inputs(extra: int = 0, seed: int = 0) -> list[tuple[str, SubmissionForm]]:
    """(category, form) pairs: every field attacked on its own, then ``extra`` random combinations."""
    cases: list[tuple[str, dict]] = []
    cases += [("repo id", {"repo_id": r}) for r in BAD_REPOS]
    cases += [("base model", {"base_model": r}) for r in BAD_REPOS[:12] + ["org/huge-base", "org/other-base"]]
    cases += [("revision", {"revision": r}) for r in BAD_REVISIONS]
    cases += [("markup", {field: payload}) for field in TEXT_FIELDS for payload in MARKUP[:3]]
    cases += [("markup", {"description": payload}) for payload in MARKUP[3:]]
    cases += [("invisible/bidi", {field: GOOD.__dict__[field][:3] + ch + GOOD.__dict__[field][3:]})
              for field in ("team", "description", "code_url", "contact_email") for ch in INVISIBLE]
    cases += [("invisible/bidi", {field: "\u202e" + (GOOD.__dict__[field] or "5")})
              for field in ("repo_id", "revision", "base_model", "comm_gb", "num_clients", "challenge_id")]
    cases += [("homoglyph team", {"team": team}) for team in HOMOGLYPH_TEAMS]
    cases += [("giant", {field: value}) for field, value in GIANTS.items()]
    cases += [("giant", {"team": "\ufdfa" * 4}), ("giant", {"team": "x" * 64}), ("giant", {"description": "d" * 2000})]
    cases += [("number", {"comm_gb": n}) for n in ODD_NUMBERS]
    cases += [("number", {field: n}) for field in ("num_clients", "num_rounds")
              for n in ["1e3", "10.0", "0", "1000001", "-5", "\u0665", "1,000", "20", " 7 "]]
    cases += [("e-mail", {"contact_email": e}) for e in BAD_EMAILS]
    cases += [("code url", {"code_url": u}) for u in BAD_URLS]
    cases += [("challenge", {"challenge_id": c}) for c in BAD_CHALLENGES]
    cases += [("path traversal", {"team": "../../../etc/passwd"}), ("path traversal", {"description": "../../x"}),
              ("path traversal", {"challenge_id": "../../requests"}), ("path traversal", {"revision": "../../etc"})]
    rng = random.Random(seed)
    pools = MARKUP + INVISIBLE + ODD_NUMBERS + HOMOGLYPH_TEAMS + BAD_REPOS + BAD_EMAILS + BAD_URLS
    for _ in range(extra):
        fields = rng.sample(TEXT_FIELDS, rng.randint(1, 4))
        cases.append(("random mix", {f: rng.choice(pools) + rng.choice(["", rng.choice(pools)]) for f in fields}))
    return [(category, replace(GOOD, **change)) for category, change in cases]


@pytest.fixture
def hub(hub_server: HubServer) -> HubServer:
    hub_server.add_model("org/small-base", {"config.json": json.dumps(SMALL_BASE).encode()})
    hub_server.add_model("org/huge-base", {"config.json": json.dumps({**SMALL_BASE, "hidden_size": 100_000}).encode()})
    hub_server.add_model("team/adapter", adapter("org/small-base"))
    hub_server.add_model("team/private-adapter", adapter("org/small-base"), private=True)
    hub_server.add_model("team/not-an-adapter", {"config.json": json.dumps(SMALL_BASE).encode()})
    return hub_server


_SAFE_URL = re.compile(r"^https?://[\x21-\x7e]+$")
_PLAIN_DECIMAL = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")


def assert_clean_request(record: dict, private: dict, form: SubmissionForm) -> None:
    """A queued request as the boards will show it: cleaned, bounded, nothing hidden, no e-mail trace."""
    team = record["team"]
    assert team == clean_name(team) and 0 < len(team) <= 64 and not refused_characters(team)
    assert "<" not in team and ">" not in team and not mixed_script_words(team)
    assert record["team_key"] == team_key(team) == team_key(form.team)
    assert not refused_characters(record["description"], allow_newlines=True)
    assert len(record["description"]) <= DESCRIPTION_MAX
    assert _SAFE_URL.match(record["code_url"]) and not any(c in record["code_url"] for c in "<>\"' ")
    assert isinstance(record["comm_gb"], float) and math.isfinite(record["comm_gb"]) and 0 <= record["comm_gb"] <= 200
    assert _PLAIN_DECIMAL.match(form.comm_gb.strip()) and record["comm_gb"] == float(form.comm_gb)  # read as typed
    for typed, count in ((form.num_clients, record["num_clients"]), (form.num_rounds, record["num_rounds"])):
        assert count is None if not typed.strip() else (typed.strip().isascii() and count == int(typed))
        assert count is None or (isinstance(count, int) and 1 <= count <= 1_000_000)
    assert record["repo_id"] == "team/adapter" and record["challenge"] in ("general_nlp", "finance", "medical")
    assert "contact_hash" not in record and private["contact_email"] not in json.dumps(record)
    assert private["contact_email"] == form.contact_email.strip() and not refused_characters(private["contact_email"])


def test_hostile_submit_inputs(hub, tmp_path):
    extra = sweep_size("HOSTILE_SWEEP", 100, 2000)
    inputs = hostile_inputs(extra, int(os.environ.get("HOSTILE_SEED", "0")))
    assert len(inputs) >= 150 + extra
    hubs = HubModels(hub_api(hub.url))
    tally: Counter[tuple[str, str]] = Counter()
    for n, (category, form) in enumerate(inputs):
        store = LocalStore(tmp_path / str(n))
        try:
            outcome = submit(store, hubs, form, now=NOW)
        except Exception as error:  # noqa: BLE001 - the point: nothing may escape
            pytest.fail(f"input {n} ({category}) raised {error!r}: {form!r}"[:2000])
        requests, private = store.all("requests"), store.all("private")
        assert outcome.status in ("refused", "queued"), (n, category, outcome.message)
        if outcome.status == "refused":
            assert outcome.reasons and all(isinstance(r, str) and r.strip() for r in outcome.reasons)
            assert not refused_characters(outcome.message, allow_newlines=True), (n, outcome.message[:300])
            assert len(outcome.message) < 3000, (n, category)
            assert requests == [] and private == [], (n, category)
        else:
            assert [r["id"] for r in requests] == [p["id"] for p in private] == [outcome.request["id"]], (n, category)
            assert_clean_request(requests[0], private[0], form)
        tally[(category, outcome.status)] += 1
    summary = {category: {status: tally[(category, status)] for status in ("refused", "queued")}
               for category in dict.fromkeys(c for c, _ in inputs)}
    totals = Counter(status for (_, status), count in tally.items() for _ in range(count))
    print(f"\nhostile submit inputs: {len(inputs)} (refused {totals['refused']}, queued {totals['queued']})")
    for category, counts in summary.items():
        print(f"  {category:16} refused {counts['refused']:4}  queued {counts['queued']:4}")
    assert totals["refused"] + totals["queued"] == len(inputs) and totals["queued"] >= 10  # the valid ones pass
