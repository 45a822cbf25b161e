"""Each rule has its own message; the limits come from the challenge definitions."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from leaderboard.challenges import challenges
from submissions.rules import SubmissionForm, check_form, check_rate_limit, find_duplicate, normalize_team

NLP = challenges()["general_nlp"]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
GOOD = SubmissionForm(challenge_id="general_nlp", repo_id="team-a/flowertune-lora", team="Team A",
                      code_url="https://github.com/team-a/flowertune", comm_gb="12.5",
                      base_model="mistralai/Mistral-7B-v0.3", contact_email="lead@team-a.org")


def test_a_good_form_passes():
    assert check_form(NLP, GOOD) == []


@pytest.mark.parametrize("change, message", [
    ({"repo_id": ""}, "Adapter repo ID is empty"),
    ({"repo_id": "just-a-name"}, "must have the form owner/name"),
    ({"repo_id": "a/b/c"}, "must have the form owner/name"),
    ({"repo_id": "own--er/x"}, "not a valid Hugging Face repo ID"),
    ({"repo_id": "owner/<script>"}, "not a valid Hugging Face repo ID"),
    ({"revision": "bad revision!"}, "is not a branch, tag or commit name"),
    ({"team": "  "}, "Team name is empty"),
    ({"team": "x" * 65}, "at most 64 are allowed"),
    ({"team": "<b>Team</b>"}, "may not contain '<', '>'"),
    ({"code_url": ""}, "link to your code repository is required"),
    ({"code_url": "javascript:alert(1)"}, "must be an http(s):// URL"),
    ({"comm_gb": ""}, "Communication cost (GB) is required"),
    ({"comm_gb": "lots"}, "Communication cost 'lots' is not a number"),
    ({"comm_gb": "nan"}, "Communication cost 'nan' is not a number"),
    ({"comm_gb": "-1"}, "cannot be negative"),
    ({"comm_gb": "200.5"}, "200.5 GB exceeds the 200 GB budget"),
    ({"base_model": ""}, "Declare the base model"),
    ({"base_model": "not a repo"}, "Base model repo ID 'not a repo' must have the form owner/name"),
    ({"contact_email": "nobody"}, "Contact e-mail is missing"),
    ({"description": "x" * 2001}, "at most 2000"),
    ({"num_clients": "0"}, "Number of clients must be a whole number"),
    ({"num_rounds": "2.5"}, "Number of rounds must be a whole number"),
    ({"num_rounds": "ten"}, "Number of rounds 'ten' is not a number"),
])
def test_each_rule_has_its_own_message(change, message):
    reasons = check_form(NLP, replace(GOOD, **change))
    assert len(reasons) == 1 and message in reasons[0], reasons


def test_exactly_200_gb_is_allowed_and_every_problem_is_reported_at_once():
    assert check_form(NLP, replace(GOOD, comm_gb="200", num_clients="20", num_rounds=" 5 ")) == []
    assert check_form(NLP, replace(GOOD, comm_gb="2,9")) == []  # a decimal comma is understood
    assert len(check_form(NLP, replace(GOOD, repo_id="x", team="", contact_email=""))) == 3


def request(team, days_ago, challenge="general_nlp", account=None, repo="o/a", commit="c" * 40, state="PENDING"):
    return {"id": f"r{team}{days_ago}", "challenge": challenge, "team_key": normalize_team(team),
            "account": account, "repo_id": repo, "commit": commit, "state": state,
            "submitted_at": (NOW - timedelta(days=days_ago)).isoformat()}


def test_two_per_team_per_rolling_week_counted_case_insensitively():
    history = [request("Team A", 1), request("team  a", 6.9)]
    reasons = check_rate_limit(NLP, history, "TEAM A", None, NOW)
    assert len(reasons) == 1 and "already has 2 submission(s) to General NLP in the last 7 days" in reasons[0]
    assert "2026-03-10 14:24 UTC" in reasons[0]  # when the older one leaves the window
    assert check_rate_limit(NLP, [request("Team A", 1), request("Team A", 7.1)], "Team A", None, NOW) == []
    assert check_rate_limit(NLP, history, "Team B", None, NOW) == []
    other_challenge = [request("Team A", 1, "finance"), request("Team A", 2, "finance")]
    assert check_rate_limit(NLP, other_challenge, "Team A", None, NOW) == []


def test_limit_per_signed_in_account_cannot_be_dodged_by_renaming_the_team():
    history = [request("Team A", 1, account="alice"), request("Team B", 2, account="alice")]
    reasons = check_rate_limit(NLP, history, "Team C", "alice", NOW)
    assert len(reasons) == 1 and "account 'alice'" in reasons[0]


def test_merging_allows_one_per_day():
    merging = challenges()["merging"]
    assert check_rate_limit(merging, [request("M", 0.5, "merging")], "M", None, NOW)
    assert check_rate_limit(merging, [request("M", 1.5, "merging")], "M", None, NOW) == []


def test_duplicate_is_same_repo_commit_and_challenge_unless_it_failed():
    history = [request("Team A", 1)]
    assert find_duplicate(history, "general_nlp", "o/a", "c" * 40)["id"] == history[0]["id"]
    assert find_duplicate(history, "finance", "o/a", "c" * 40) is None
    assert find_duplicate(history, "general_nlp", "o/a", "d" * 40) is None
    assert find_duplicate([request("Team A", 1, state="FAILED")], "general_nlp", "o/a", "c" * 40) is None
