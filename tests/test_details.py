from leaderboard.details import details_markdown
from tests.board_records import result


def test_details_show_scores_provenance_and_samples_as_text():
    record = {**result("r1", "<b>T</b>", 50.0, challenge="finance", fpb=40.0, fiqa=60.0, tfns=50.0),
              "model_commit": "a" * 40, "provenance": {"device": "cpu", "versions": {"lm_eval": "0.4.13"}}}
    samples = {"samples": {"fpb": [{"prompt": "Instruction: ... Answer: ", "output": "<script>x</script> positive",
                                    "parsed": "positive", "gold": "positive", "correct": True}] * 7}}
    text = details_markdown(record, samples)
    assert "&lt;b&gt;T&lt;/b&gt;" in text and "<script>" not in text
    assert "| FPB | 40.00 |" in text and "**50.00**" in text and "a" * 40 in text and "0.4.13" in text
    assert "**FPB**: 7 samples" in text and text.count("| positive | positive | True |") == 5


def test_unknown_record():
    assert "No result with that id" in details_markdown(None)


def test_missing_scores_show_a_dash():
    """The record contract lets a result leave its average or a score null; the details page still renders."""
    record = {**result("r2", "T", 0.0, challenge="finance", fpb=None, fiqa=60.0), "average": None}
    text = details_markdown(record)
    assert "| FPB | — |" in text and "| FIQA | 60.00 |" in text and "| **—** |" in text
