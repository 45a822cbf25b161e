from dataclasses import replace

from challenges.definitions import challenges
from leaderboard.about import about_markdown
from leaderboard.boards import Boards
from leaderboard.plot import efficiency_figure
from leaderboard.published import all_published_records
from tests.board_records import result


def test_plot_marks_the_pareto_front_with_team_and_model_on_hover():
    frame = Boards(records=all_published_records()).frame("general_nlp")
    figure = efficiency_figure(challenges()["general_nlp"], frame)
    entries, front = figure.data
    assert figure.layout.xaxis.type == "log"
    assert list(front.x) == [0.5, 0.7, 2.9] and list(front.y) == [12.22, 67.78, 69.25]
    assert len(entries.x) + len(front.x) == 19
    assert any("ZeroOne.AI" in text and "Internlm3-8b-instruct" in text for text in front.text)


def test_about_is_generated_from_the_definition():
    nlp = about_markdown(challenges()["general_nlp"])
    for fact in ("PEFT adapter", "13 B parameters", "200 GB", "at most 2 submissions per team per week",
                 "unweighted mean", "STEM", "cais/mmlu", "code repository", challenges()["general_nlp"].version):
        assert fact in nlp
    merging = about_markdown(challenges()["merging"])
    for fact in ("8.1 B parameters", "mergekit recipe", "one evaluation per team per day", "hidden test set", "validation",
                 "Validation Performance"):
        assert fact in merging
    assert "200 GB" not in merging
    assert "**4-bit FP4 (bitsandbytes, float32 compute), float32**, one prompt per generate call" in nlp
    finance = about_markdown(challenges()["finance"])
    assert "**float16, no quantization**, 4 prompts per generate call" in finance


def test_plot_of_a_board_without_communication_costs_says_so_instead_of_failing():
    """Finance and Code ship with no communication cost at all (KeyError 'comm_gb' before the fix)."""
    for board in ("finance", "code"):
        frame = Boards(records=all_published_records()).frame(board)
        assert frame["comm_gb"].isna().all()
        figure = efficiency_figure(challenges()[board], frame)
        assert all(len(trace.x) == 0 for trace in figure.data)
        notes = [a.text for a in figure.layout.annotations]
        assert len(notes) == 1 and "No entry on this board has a communication cost yet" in notes[0]


def test_plot_with_one_costed_entry_puts_it_on_the_front():
    records = [result("a", "Costed", 50.0, comm_gb=2.0, challenge="finance"),
               result("b", "Uncosted", 60.0, challenge="finance")]
    figure = efficiency_figure(challenges()["finance"], Boards(records=records).frame("finance"))
    entries, front = figure.data
    assert list(front.x) == [2.0] and list(entries.x) == []
    assert "1 entry without a communication cost is not shown" in figure.layout.annotations[0].text


def test_partial_runs_stay_off_the_plot_and_its_front():
    """A partial run (local data, a question limit) is not ranked, so it must not take the Pareto front either."""
    records = [result("real", "Real Team", 50.0, comm_gb=2.0),
               result("demo", "Sample", 99.0, comm_gb=1.0, source="partial")]
    figure = efficiency_figure(challenges()["general_nlp"], Boards(records=records).frame("general_nlp"))
    entries, front = figure.data
    assert list(front.x) == [2.0] and list(entries.x) == []
    assert not any("Sample" in text for text in front.text) and not figure.layout.annotations


def test_about_names_the_components_cut_off_when_set():
    merging = challenges()["merging"]
    assert "uploaded (its commit dated) before" not in about_markdown(merging)
    dated = replace(merging, limits=replace(merging.limits, components_uploaded_before="2024-05-31"))
    assert "Every component must have been uploaded (its commit dated) before **2024-05-31**." in about_markdown(dated)
