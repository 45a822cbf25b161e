from challenges.definitions import challenges
from leaderboard.details import details_markdown
from leaderboard.samples_view import PAGE_SIZE, column_choices, sample_counts, samples_page
from store.base import LocalStore
from store.details_files import write_details
from tests.board_records import result

FPB = [{"prompt": "Instruction: ... Answer: ", "output": "<script>x</script> positive", "parsed": "positive",
        "gold": "positive", "correct": True}] * 23


def test_details_show_scores_and_provenance_as_text():
    record = {**result("r1", "<b>T</b>", 50.0, challenge="finance", fpb=40.0, fiqa=60.0, tfns=50.0),
              "model_commit": "a" * 40, "provenance": {"device": "cpu", "versions": {"lm_eval": "0.4.13"}}}
    text = details_markdown(record)
    assert "&lt;b&gt;T&lt;/b&gt;" in text and "<script>" not in text
    assert "| FPB | 40.00 |" in text and "**50.00**" in text and "a" * 40 in text and "0.4.13" in text


def test_samples_page_by_page_as_text_with_each_column_s_total(tmp_path):
    store, finance = LocalStore(tmp_path), challenges()["finance"]
    write_details(store, "r1", 1, "w", {"tfns": FPB[:3], "fpb": FPB})
    counts, note = sample_counts(store, "r1")
    assert note is None and column_choices(finance, counts) == [("FPB (23 samples)", "fpb"), ("TFNS (3 samples)", "tfns")]
    first = samples_page(store, finance, "r1", "fpb", 0)
    assert "**FPB**: samples 1–10 of 23 (page 1 of 3)" in first.markdown and "<script>" not in first.markdown
    assert first.markdown.count("| positive | positive | True |") == PAGE_SIZE
    assert (first.offset, first.has_previous, first.has_next) == (0, False, True)
    last = samples_page(store, finance, "r1", "fpb", 20)
    assert "samples 21–23 of 23 (page 3 of 3)" in last.markdown and "| 23 | …" in last.markdown
    assert (last.has_previous, last.has_next) == (True, False)
    assert samples_page(store, finance, "r1", "fpb", 90).offset == 20  # past the end: the last page
    assert "no per-sample outputs for FIQA" in samples_page(store, finance, "r1", "fiqa", 0).markdown


def test_unknown_record():
    assert "No result with that id" in details_markdown(None)


def test_missing_scores_show_a_dash():
    """The record contract lets a result leave its average or a score null; the details page still renders."""
    record = {**result("r2", "T", 0.0, challenge="finance", fpb=None, fiqa=60.0), "average": None}
    text = details_markdown(record)
    assert "| FPB | — |" in text and "| FIQA | 60.00 |" in text and "| **—** |" in text


WORKER_PROVENANCE = {  # as evaluator/worker.py writes it
    "versions": {"torch": "2.13.0", "transformers": "5.1.0", "peft": "0.18.0", "lm_eval": "0.4.13"},
    "device": "NVIDIA H200", "dtype": "float16", "quantization": None, "pad_token": "[PAD] added when missing or "
    "equal to EOS", "precision_official": True,
    "task_definition_hash": "3f2a9c", "dataset_revisions": {"fpb": "5e0c6a1f" * 5, "fiqa": "d41b" * 10,
                                                            "tfns": "0a1b2c3d" * 5},
    "sample_counts": {"fpb": 1212, "fiqa": 275, "tfns": 2388}, "settings": {"batch_size": 8, "max_length": 512},
    "batch_size": 8, "limit": None, "duration_s": 78.4, "peak_memory_mb": 10240.5, "worker": "gpu-1",
    "rules_version": "d1a211a2c15b", "a_field_added_later": {"x": 1},
}


def test_details_say_what_the_board_says_with_no_empty_header_row():
    """The board shows 'verified' for a result this Space scored; the details said 'Source: evaluated'
    under a table header with nothing in it."""
    verified = {**result("r3", "T", 50.0, challenge="finance", fpb=40.0), "provenance": WORKER_PROVENANCE}
    lines = details_markdown(verified).splitlines()
    first_table = next(i for i, line in enumerate(lines) if line.startswith("|"))
    assert lines[first_table].replace("|", "").strip() != ""
    assert "| Source | verified |" in lines and not any("evaluated" in line for line in lines)
    published = {**result("p1", "T", 50.0, challenge="finance", source="published"),
                 "provenance": {"imported_from": "https://flower.ai/benchmarks/llm-leaderboard/finance"}}
    assert "| Source | published |" in details_markdown(published).splitlines()


def test_provenance_is_a_readable_table_with_the_raw_record_folded_away():
    record = {**result("r4", "T", 50.0, challenge="finance", fpb=40.0), "provenance": WORKER_PROVENANCE}
    text = details_markdown(record)
    provenance = text[text.index("### Provenance"):]
    table, raw = provenance.split("<details>")
    for row in ("| Precision | float16; pad token: [PAD] added when missing or equal to EOS (the official precision) |",
                "| Device | NVIDIA H200 |",
                "| Package versions | torch 2.13.0 · transformers 5.1.0 · peft 0.18.0 · lm_eval 0.4.13 |",
                f"| Dataset commits | FPB {'5e0c6a1f' * 5} · FIQA {'d41b' * 10} · TFNS {'0a1b2c3d' * 5} |",
                "| Samples | FPB 1,212 · FIQA 275 · TFNS 2,388 |",
                "| Duration | 1 min 18 s |",
                "| Peak memory | 10,240 MB |",
                "| Batch size | 8 |",
                "| Rules version | d1a211a2c15b |",
                "| a_field_added_later | x: 1 |"):
        assert row in table.splitlines(), row
    assert "{" not in table and "Limit" not in table  # no JSON in the table; an unset limit is not a row
    assert raw.startswith("<summary>") and '"duration_s": 78.4' in raw and raw.rstrip().endswith("</details>")


def test_details_say_when_a_result_was_not_loaded_at_the_official_precision():
    provenance = {"dtype": "float32", "quantization": None, "precision_official": False}
    text = details_markdown({**result("r6", "T", 1.0, challenge="general_nlp"), "provenance": provenance})
    assert ("| Precision | float32 (not the official precision: 4-bit FP4 (bitsandbytes, float32 compute), "
            "float32) |") in text.splitlines()
    older = details_markdown({**result("r7", "T", 1.0, challenge="general_nlp"), "provenance": {"dtype": "float32"}})
    assert "| Precision | float32 |" in older.splitlines()  # recorded before the flag: no claim either way


def test_a_smoke_run_says_so_and_odd_values_stay_text():
    provenance = {"limit": 5, "device": "<b>cpu</b> | x", "duration_s": 3.25}
    text = details_markdown({**result("r5", "T", 1.0, challenge="finance"), "provenance": provenance})
    assert "| Questions per dataset | 5 (a smoke run, not a full evaluation) |" in text
    assert "| Device | &lt;b&gt;cpu&lt;/b&gt; &#124; x |" in text and "| Duration | 3.2 s |" in text


PARTIAL_REASONS = ["local data override (EVALUATOR_DATA_DIR): not the official datasets",
                   "at most 1 questions per dataset (EVALUATOR_LIMIT)"]


def test_a_partial_result_says_why_beside_its_source():
    record = {**result("r6", "T", 99.0, challenge="finance", source="partial"),
              "provenance": {"partial": PARTIAL_REASONS, "limit": 1}}
    lines = details_markdown(record).splitlines()
    assert "| Source | partial |" in lines
    assert (f"| Not ranked | a partial (smoke) run: {PARTIAL_REASONS[0]}; {PARTIAL_REASONS[1]} |") in lines
    assert f"| Partial run, because | {PARTIAL_REASONS[0]}, {PARTIAL_REASONS[1]} |" in lines


def test_a_full_evaluation_has_no_partial_rows():
    record = {**result("r8", "T", 50.0, challenge="finance"), "provenance": WORKER_PROVENANCE}
    assert "Not ranked" not in details_markdown(record) and "Partial" not in details_markdown(record)
