"""Each rule has its own message; the limits come from the challenge definitions."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from challenges.definitions import challenges
from submissions.rules import (
    SubmissionForm,
    check_form,
    check_rate_limit,
    find_duplicate,
    normalize_team,
)

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
    ({"num_clients": "0"}, "Clients per round must be a whole number"),
    ({"num_rounds": "2.5"}, "Number of rounds '2.5' is not a whole number"),
    ({"num_rounds": "ten"}, "Number of rounds 'ten' is not a number"),
])
def test_each_rule_has_its_own_message(change, message):
    reasons = check_form(NLP, replace(GOOD, **change))
    assert len(reasons) == 1 and message in reasons[0], reasons


def test_exactly_200_gb_is_allowed_and_every_problem_is_reported_at_once():
    assert check_form(NLP, replace(GOOD, comm_gb="200", num_clients="20", num_rounds=" 5 ")) == []
    assert len(check_form(NLP, replace(GOOD, repo_id="x", team="", contact_email=""))) == 3


def request(team, days_ago, challenge="general_nlp", account=None, repo="o/a", commit="c" * 40, state="PENDING",
            failure=None):
    return {"id": f"r{team}{days_ago}", "challenge": challenge, "team_key": normalize_team(team),
            "account": account, "repo_id": repo, "commit": commit, "state": state, "failure": failure,
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


# --- numbers: plain ASCII decimal notation only, the value quoted as typed ---------------------------------

@pytest.mark.parametrize("typed, message", [
    ("1,000", "is ambiguous: use a point as the decimal separator and no thousands separators"),
    ("2,9", "is ambiguous"),
    ("1_0", "is not a number in plain decimal notation"),
    ("\uff11\uff10", "is not a number in plain decimal notation"),  # full-width 10
    ("\u0661\u0660", "is not a number in plain decimal notation"),  # Arabic-Indic 10
    ("1e-400", "is not a number in plain decimal notation"),
    ("1e3", "is not a number in plain decimal notation"),
    ("inf", "is not a number in plain decimal notation"),
    ("-inf", "is not a number in plain decimal notation"),
    ("nan", "is not a number in plain decimal notation"),
    ("0x10", "is not a number in plain decimal notation"),
    ("+5", "is not a number in plain decimal notation"),
    ("1.2.3", "is not a number in plain decimal notation"),
    ("-0.5", "cannot be negative"),
    ("9" * 40, "is too long to be a number"),
])
def test_communication_cost_in_any_odd_notation_is_refused_naming_field_and_value(typed, message):
    reasons = check_form(NLP, replace(GOOD, comm_gb=typed))
    assert len(reasons) == 1 and reasons[0].startswith("Communication cost '") and message in reasons[0], reasons
    if len(typed) < 40:
        assert f"'{typed}'" in reasons[0]  # the value exactly as typed


def test_a_value_just_over_the_budget_is_refused_as_typed():
    reasons = check_form(NLP, replace(GOOD, comm_gb="200.0000001"))
    assert reasons == ["Communication cost 200.0000001 GB exceeds the 200 GB budget of this challenge."]
    # beyond float precision: 200.00000000000000001 is 200.0 as a float, yet more than 200
    assert "exceeds" in check_form(NLP, replace(GOOD, comm_gb="200.00000000000000001"))[0]
    for fine in ("200", "200.000", "0", ".5", "3.", " 12.5 "):
        assert check_form(NLP, replace(GOOD, comm_gb=fine)) == [], fine


@pytest.mark.parametrize("typed", ["1,000", "1e2", "\uff15", "5.0", "-3", "0x5"])
def test_counts_are_whole_plain_numbers(typed):
    reasons = check_form(NLP, replace(GOOD, num_clients=typed))
    assert len(reasons) == 1 and reasons[0].startswith(f"Clients per round '{typed}'"), reasons


# --- team names: one team however it is spelled; invisible and direction characters refused ---------------

def test_look_alike_spellings_are_one_team():
    keys = {normalize_team(name) for name in ("Evade", "EVADE", " evade ", "\uff25vade", "\u0395VADE",
                                              "\u0415\u0412\u0410", "EBA")}
    assert keys == {"evade", "eba"}
    assert normalize_team("Caf\u00e9") == normalize_team("Cafe\u0301") == normalize_team("cafe")
    assert normalize_team("Команда") != normalize_team("Komanda")  # a whole-Cyrillic name keeps its letters


@pytest.mark.parametrize("team, message", [
    ("Eva\u200bde", "U+200B ZERO WIDTH SPACE"),
    ("Evade\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066Evade\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("Ev\u00adade", "U+00AD SOFT HYPHEN"),
    ("\ufeffEvade", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("Eva\nde", "U+000A"),
    ("\u0415vade", "mixes alphabets in one word ('\u0415vade'"),
    ("Team \u0391lpha", "mixes alphabets in one word ('\u0391lpha'"),
    ("\u13aadmin", "mixes alphabets in one word"),  # Cherokee A
    ("Eva\u0301\u0302\u0303\u0304de", "stacks more than 2 accents or marks on one letter"),
])
def test_names_that_hide_or_disguise_characters_are_refused(team, message):
    reasons = check_form(NLP, replace(GOOD, team=team))
    assert len(reasons) == 1 and reasons[0].startswith("Team name") and message in reasons[0], reasons


def test_names_in_any_single_script_are_fine_and_compatibility_forms_count_by_their_cleaned_length():
    for team in ("Команда Альфа", "Ομάδα", "東京チーム", "AIチーム", "Team Zürich", "\uff34\uff45\uff41\uff4d",
                 "Vi\u1ec7t Nam"):
        assert check_form(NLP, replace(GOOD, team=team)) == [], team
    assert "at most 64" in check_form(NLP, replace(GOOD, team="\ufdfa" * 4))[0]  # NFKC makes each one 18 letters


@pytest.mark.parametrize("field, label", [("description", "Method description"), ("code_url", "Code repository link"),
                                          ("contact_email", "Contact e-mail"), ("revision", "Revision"),
                                          ("repo_id", "Adapter repo ID"), ("base_model", "Base model repo ID")])
def test_bidi_and_invisible_characters_are_refused_in_every_text_field(field, label):
    value = getattr(GOOD, field) or "main"
    reasons = check_form(NLP, replace(GOOD, **{field: value[:3] + "\u202e" + value[3:]}))
    assert len(reasons) == 1 and reasons[0].startswith(label) and "U+202E" in reasons[0], reasons


def test_code_url_must_be_plain_ascii_http():
    assert check_form(NLP, replace(GOOD, code_url="https://github.com/team-a/x?tab=readme#top")) == []
    for url in ("https://gith\u0443b.com/x", "https://github.com/a b", "https://", "http://x.org/\"onmouseover=",
                "ftp://github.com/x", "https://github.com/" + "x" * 300):
        assert "must be an http(s):// URL" in check_form(NLP, replace(GOOD, code_url=url))[0], url


def test_an_email_with_a_line_break_is_refused():
    reasons = check_form(NLP, replace(GOOD, contact_email="a@b.org\r\nBcc: x@y.org"))
    assert len(reasons) == 1 and "Contact e-mail" in reasons[0]


# --- which failures count against the window --------------------------------------------------------------

def test_a_request_that_failed_because_of_the_evaluator_does_not_count():
    ours = request("Team A", 1, state="FAILED", failure={"reason": "dataset could not be loaded", "cause": "evaluator"})
    theirs = request("Team A", 2, state="FAILED", failure={"reason": "adapter does not load", "cause": "submission"})
    unknown = request("Team A", 3, state="FAILED", failure={"reason": "old record"})
    assert check_rate_limit(NLP, [ours, request("Team A", 4)], "Team A", None, NOW) == []
    assert check_rate_limit(NLP, [theirs, request("Team A", 4)], "Team A", None, NOW)
    assert check_rate_limit(NLP, [unknown, request("Team A", 4)], "Team A", None, NOW)
    signed_in = [{**ours, "account": "alice"}, request("Team B", 4, account="alice")]
    assert check_rate_limit(NLP, signed_in, "Team C", "alice", NOW) == []


def test_stored_names_are_counted_by_the_current_key_and_bad_times_do_not_break_counting():
    old = [{**request("x", 1), "team": "Eva\u200bde", "team_key": "eva\u200bde"},
           {**request("y", 2), "team": "\u0415vade", "team_key": "\u0435vade"}]
    assert "already has 2 submission(s)" in check_rate_limit(NLP, old, "Evade", None, NOW)[0]
    odd = [{**request("Team A", 1), "submitted_at": "soon"}, {**request("Team A", 2), "submitted_at": "2026-03-09"}]
    assert check_rate_limit(NLP, odd, "Team A", None, NOW) == []  # one unreadable, one naive (read as UTC)
