import csv
import io

from challenges.definitions import challenges
from leaderboard.export import board_csv
from leaderboard.render import render_page
from leaderboard.table import BoardQuery, board_frame, query_page, visible_keys
from tests.board_records import result

NLP = challenges()["general_nlp"]


def test_html_in_names_is_shown_as_text():
    frame = board_frame(NLP, [result("x", "<script>alert(1)</script>", 5.0, base='<img src=x onerror="a()">')])
    html = render_page(NLP, query_page(frame, BoardQuery()), BoardQuery(), visible_keys(NLP, None))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_only_http_links_are_rendered():
    record = result("x", "t", 5.0)
    record["code_url"] = "javascript:alert(1)"
    frame = board_frame(NLP, [record, dict(result("y", "u", 4.0), code_url="https://github.com/a/b")])
    html = render_page(NLP, query_page(frame, BoardQuery()), BoardQuery(), visible_keys(NLP, None))
    assert "javascript:" not in html
    assert 'href="https://github.com/a/b"' in html


def test_sort_indicator_and_formats():
    frame = board_frame(NLP, [result("x", "t", 60.8, comm_gb=2.0, date="2025-04-04", stem=60.8)])
    query = BoardQuery().sorted_by("comm_gb")
    html = render_page(NLP, query_page(frame, query), query, visible_keys(NLP, None))
    assert "Comm. Costs ▲" in html and "2.0 GB" in html and "60.80" in html and "04.04.25" in html


def test_csv_neutralizes_formulas_and_keeps_numbers():
    frame = board_frame(NLP, [
        result("a", "=HYPERLINK(\"http://evil\")", 50.5, comm_gb=2.9, date="2025-01-02", stem=-1.5),
        result("b", "+cmd", 40.0, base="@SUM(A1)"),
        result("c", "-team", 30.0, base="\tx"),
    ])
    rows = list(csv.reader(io.StringIO(board_csv(NLP, frame, visible_keys(NLP, None)))))
    assert rows[0][:6] == ["Rank", "Team", "Code", "Base Model", "Comm. Costs (GB)", "Average (↑)"]
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\")"
    assert rows[2][1] == "'+cmd" and rows[2][3] == "'@SUM(A1)"
    assert rows[3][1] == "'-team" and rows[3][3] == "'\tx"
    assert rows[1][0] == "1" and rows[1][4] == "2.9" and rows[1][5] == "50.5"
    assert rows[1][6] == "-1.5"  # a real negative number stays a number
    assert rows[1][-2] == "02.01.25"


def test_a_partial_row_shows_its_badge_and_no_rank():
    frame = board_frame(NLP, [result("s", "Sampler", 5.0, source="partial"), result("v", "Real", 1.0)])
    html = render_page(NLP, query_page(frame, BoardQuery()), BoardQuery(), visible_keys(NLP, None))
    sample_row = html[html.index("Sampler") - 400:html.index("Sampler")]
    assert 'data-col="rank"' in sample_row or "data-col=rank" in sample_row
    assert ">—<" in sample_row and "nan" not in html
    assert 'class="src src-partial"' in html and "never ranked" in html and "src-sample" not in html
    rows = list(csv.reader(io.StringIO(board_csv(NLP, frame, visible_keys(NLP, None)))))
    assert [r[0] for r in rows[1:]] == ["1", ""]


def test_every_board_says_the_precision_its_verified_rows_were_loaded_at():
    """Read from each definition: General NLP 4-bit FP4 with float32 compute, Finance float16, and so on."""
    seen = {}
    for challenge in challenges().values():
        frame = board_frame(challenge, [])
        html = render_page(challenge, query_page(frame, BoardQuery()), BoardQuery(), visible_keys(challenge, None))
        line = f"models loaded at the official precision, {challenge.precision.describe()}"
        assert line in html
        seen[challenge.id] = challenge.precision.describe()
    assert seen["general_nlp"] == "4-bit FP4 (bitsandbytes, float32 compute), float32"
    assert seen["finance"] == "float16, no quantization"
