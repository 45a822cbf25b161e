from pathlib import Path

import pytest
import yaml

from challenges.definitions import (
    DEFINITIONS_DIR,
    DefinitionError,
    challenges,
    load_challenges,
)
from leaderboard.columns import board_columns


def test_five_boards_in_order():
    assert list(challenges()) == ["general_nlp", "finance", "medical", "code", "merging"]
    assert [c.title for c in challenges().values()][-1] == "LLM Merging Competition"


def test_flowertune_rules_from_seed():
    for cid in ("general_nlp", "finance", "medical", "code"):
        limits = challenges()[cid].limits
        assert limits.peft_required and limits.code_url_required
        assert limits.base_params_max == 13e9
        assert limits.comm_gb_max == 200
        assert (limits.per_team_count, limits.per_team_days) == (2, 7)


def test_merging_rules():
    merging = challenges()["merging"]
    assert 8_030_261_248 < merging.limits.base_params_max == 8.1e9  # Llama-3-8B fits "8 B"
    assert merging.limits.components_uploaded_before is None
    assert (merging.limits.per_team_count, merging.limits.per_team_days) == (1, 1)
    assert merging.limits.hidden_test
    assert [c.label for c in board_columns(merging) if c.default_visible] == [
        "Rank", "Model / Submission", "Validation Performance", "CosmosQA", "XSum", "Date", "Source"]
    assert [c.label for c in board_columns(merging, revealed=True) if c.default_visible] == [
        "Rank", "Model / Submission", "Validation Performance", "CosmosQA", "XSum", "Test average", "CosmosQA (test)",
        "XSum (test)", "Gap (test − val.)", "Date", "Source"]


def test_general_nlp_columns_and_subjects():
    nlp = challenges()["general_nlp"]
    assert [c.label for c in nlp.columns] == ["STEM", "Social Sciences", "Humanities"]
    assert [len(c.evaluation["subjects"]) for c in nlp.columns] == [19, 12, 13]
    labels = [c.label for c in board_columns(nlp) if c.default_visible]
    assert labels == ["Rank", "Team", "Code", "Base Model", "Comm. Costs", "Average (↑)", "STEM",
                      "Social Sciences", "Humanities", "Verified", "Δ", "Date", "Source"]


def test_adding_a_challenge_is_one_file(tmp_path: Path):
    for path in DEFINITIONS_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    raw = yaml.safe_load((DEFINITIONS_DIR / "finance.yaml").read_text())
    raw.update(id="legal", title="Legal", order=5)
    raw["columns"] = [{"key": "lexglue", "label": "LexGLUE", "dataset": "lex_glue", "metric": "accuracy"}]
    (tmp_path / "legal.yaml").write_text(yaml.safe_dump(raw))
    loaded = load_challenges(tmp_path)
    assert list(loaded)[4] == "legal"
    assert "LexGLUE" in [c.label for c in board_columns(loaded["legal"])]


def test_rules_version_changes_with_the_definition(tmp_path: Path):
    raw = yaml.safe_load((DEFINITIONS_DIR / "code.yaml").read_text())
    (tmp_path / "code.yaml").write_text(yaml.safe_dump(raw))
    before = load_challenges(tmp_path)["code"].version
    raw["limits"]["comm_gb_max"] = 100
    (tmp_path / "code.yaml").write_text(yaml.safe_dump(raw))
    assert load_challenges(tmp_path)["code"].version != before


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.pop("columns"), "missing 'columns'"),
        (lambda r: r.update(family="other"), "family must be one of"),
        (lambda r: r["columns"].append(dict(r["columns"][0])), "unique"),
        (lambda r: r["limits"].pop("per_team"), "missing 'per_team'"),
        (lambda r: r.pop("evaluation_precision"), "missing 'evaluation_precision'"),
        (lambda r: r["evaluation_precision"].update(dtype="float8"), r"evaluation_precision.dtype must be one of"),
        (lambda r: r["evaluation_precision"]["quantization"].update(type="int4"), "quantization.type must be"),
        (lambda r: r["evaluation_precision"]["quantization"].update(bits=8), "quantization.bits must be 4"),
        (lambda r: r["evaluation_precision"].update(batch_size=0), "batch_size must be a positive integer"),
        (lambda r: r["evaluation_precision"].update(pad_token="zero"), "pad_token must be one of"),
        (lambda r: r["evaluation_precision"].update(order="shuffled"), r"unknown key\(s\) \['order'\]"),
    ],
)
def test_malformed_definition_is_named(tmp_path: Path, change, message):
    raw = yaml.safe_load((DEFINITIONS_DIR / "medical.yaml").read_text())
    change(raw)
    (tmp_path / "medical.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DefinitionError, match=message) as info:
        load_challenges(tmp_path)
    assert "medical.yaml" in str(info.value)


def test_each_challenge_states_the_precision_of_its_official_script():
    precision = {cid: challenge.precision for cid, challenge in challenges().items()}
    for cid in ("general_nlp", "medical"):  # BitsAndBytesConfig(load_in_4bit=True): FP4, float32 compute
        assert precision[cid].describe() == "4-bit FP4 (bitsandbytes, float32 compute), float32"
        assert (precision[cid].pad_token, precision[cid].batch_size) == ("eos", 1)
    assert precision["finance"].describe() == "float16, no quantization"
    assert (precision["finance"].pad_token, precision["finance"].batch_size) == ("add", 4)
    assert precision["code"].describe() == precision["merging"].describe() == "float32, no quantization"
    assert all("eval" in p.source or "Merges.py" in p.source for p in precision.values())


def test_each_board_declares_its_controls():
    """The merging board has no base models and no communication costs: it showed a family filter whose only
    option was "Unknown", cost boxes and FlowerTune's search example."""
    for cid in ("general_nlp", "finance", "medical", "code"):
        board = challenges()[cid].board
        assert board.filters == ("base_model", "comm_gb", "date", "source")
        assert board.search_placeholder == "e.g. ZJUDAI or Qwen"
    merging = challenges()["merging"].board
    assert merging.filters == ("date", "source")
    assert "ZJUDAI" not in merging.search_placeholder and "readapt" in merging.search_placeholder


@pytest.mark.parametrize("filters, message", [
    (["date", "colour"], "unknown filter 'colour'"),
    (["comm_gb"], "'comm_gb' needs a flowertune board"),
])
def test_a_board_control_that_cannot_work_is_named(tmp_path: Path, filters, message):
    raw = yaml.safe_load((DEFINITIONS_DIR / "merging.yaml").read_text())
    raw["board"]["filters"] = filters
    (tmp_path / "merging.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DefinitionError, match=message):
        load_challenges(tmp_path)


def test_how_a_board_looks_is_not_a_rules_change(tmp_path: Path):
    raw = yaml.safe_load((DEFINITIONS_DIR / "finance.yaml").read_text())
    (tmp_path / "finance.yaml").write_text(yaml.safe_dump(raw))
    before = load_challenges(tmp_path)["finance"].version
    raw["board"]["search_placeholder"] = "e.g. Baseline"
    (tmp_path / "finance.yaml").write_text(yaml.safe_dump(raw))
    assert load_challenges(tmp_path)["finance"].version == before


def test_warning_tolerances_are_read_checked_and_not_a_rules_change(tmp_path: Path):
    assert (challenges()["medical"].checks.recheck_tolerance, challenges()["medical"].checks.comm_tolerance) == (2.0, 0.25)
    raw = yaml.safe_load((DEFINITIONS_DIR / "finance.yaml").read_text())
    (tmp_path / "finance.yaml").write_text(yaml.safe_dump(raw))
    before = load_challenges(tmp_path)["finance"].version
    raw["checks"] = {"recheck_tolerance": 0.5, "comm_tolerance": 0.1}
    (tmp_path / "finance.yaml").write_text(yaml.safe_dump(raw))
    loaded = load_challenges(tmp_path)["finance"]
    assert loaded.version == before and (loaded.checks.recheck_tolerance, loaded.checks.comm_tolerance) == (0.5, 0.1)
    for checks, message in (({"recheck_tolerance": -1}, "must be a number, 0 or more"),
                            ({"comm_tolerance": "wide"}, "must be a number, 0 or more"),
                            ({"recheck_tol": 2}, "unknown key 'recheck_tol' in checks")):
        raw["checks"] = checks
        (tmp_path / "finance.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(DefinitionError, match=message):
            load_challenges(tmp_path)


def test_components_cut_off_is_a_checked_date_and_a_rules_change(tmp_path: Path):
    raw = yaml.safe_load((DEFINITIONS_DIR / "merging.yaml").read_text())
    (tmp_path / "merging.yaml").write_text(yaml.safe_dump(raw))
    unset = load_challenges(tmp_path)["merging"]
    assert unset.version == challenges()["merging"].version  # null: no cut-off, the same rules
    raw["limits"]["components_uploaded_before"] = "2024-05-31"
    (tmp_path / "merging.yaml").write_text(yaml.safe_dump(raw))
    dated = load_challenges(tmp_path)["merging"]
    assert dated.limits.components_uploaded_before == "2024-05-31" and dated.version != unset.version
    raw["limits"]["components_uploaded_before"] = "last May"
    (tmp_path / "merging.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DefinitionError, match="components_uploaded_before must be a YYYY-MM-DD date or null"):
        load_challenges(tmp_path)
