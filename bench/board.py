"""Board speed in a real browser: our paged board vs a plain ``gr.Dataframe`` holding the same rows.

Fills the General NLP board with 10, 10k and 100k synthetic result records and measures, in Debian's
chromium via Playwright: first render (navigation start -> first table row painted), a sort (header click
-> new order painted) and a filter (search typed -> filtered rows painted). Both apps run in this process,
in the same run, so the ratios compare like with like on a noisy machine.

    .venv/bin/python bench/board.py            # 10 / 10k / 100k rows
    .venv/bin/python bench/board.py --sizes 10 10000 --repeats 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from challenges.definitions import challenges
from leaderboard.boards import Boards
from leaderboard.table import board_frame
from leaderboard.ui import board_tab
from tests.browser import chromium, free_port

BASES = ["Qwen2.5-7B-Instruct", "Llama-3.2-3B", "Mistral-7B-v0.3", "Phi-4", "SmolLM2-135M", "Gemma2-9B-instruct"]
TARGET_MS = 150
TARGET_RENDER_RATIO = 1.3


def synthetic_records(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        scores = {k: round(rng.uniform(0, 90), 2) for k in ("stem", "social_sciences", "humanities")}
        records.append({
            "id": f"synthetic-{i:06d}", "challenge": "general_nlp", "team": f"team-{rng.randrange(count // 3 + 1)}",
            "base_model": rng.choice(BASES), "comm_gb": round(rng.uniform(0.1, 199), 1),
            "average": round(sum(scores.values()) / 3, 2), "scores": scores, "source": "evaluated",
            "date": f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}", "model_repo": f"org/adapter-{i}",
        })
    return records


def launch(blocks: gr.Blocks, attempts: int = 3) -> str:
    """Start ``blocks`` on a free port; gradio's own start-up probe can time out on a loaded machine."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        try:
            blocks.launch(server_port=port, prevent_thread_lock=True, quiet=True)
            break
        except ValueError:
            blocks.close()
            if attempt == attempts:
                raise
    return f"http://127.0.0.1:{port}"


def ours_app(records: list[dict]) -> gr.Blocks:
    boards = Boards(records=records)
    boards.frame("general_nlp")  # build the frame before timing, as the running Space has it cached
    with gr.Blocks() as demo, gr.Tabs():
        board_tab(challenges()["general_nlp"], boards)
    return demo


def plain_app(records: list[dict]) -> gr.Blocks:
    frame = board_frame(challenges()["general_nlp"], records)
    shown = frame[["rank", "team", "base_model", "comm_gb", "average", "stem", "social_sciences", "humanities",
                   "date"]]
    with gr.Blocks() as demo:
        gr.Dataframe(shown, elem_id="plain", show_search="filter", interactive=False)
    return demo


# Each measurement runs inside the page: act, then poll every animation frame until the condition holds.
WAIT_JS = """async ([selector, action, condition, value]) => {
  const start = performance.now();
  const act = new Function('value', action); act(value);
  const done = new Function('value', condition);
  while (!done(value)) {
    await new Promise(r => requestAnimationFrame(r));
    if (performance.now() - start > 120000) throw new Error('timed out: ' + condition);
  }
  return performance.now() - start;
}"""

OURS = {
    "row": "#general_nlp-table tbody tr[data-id]",
    "sort_action": "document.querySelector('#general_nlp-table th[data-sort=comm_gb]').click()",
    "sort_done": "const th = document.querySelector('#general_nlp-table th[data-sort=comm_gb]');"
                 " const first = document.querySelector('#general_nlp-table td[data-col=comm_gb]');"
                 " return th.textContent.includes('▲') && parseFloat(first.textContent) === parseFloat(value)",
    "filter_action": """const box = document.querySelector('#general_nlp-search textarea, #general_nlp-search input');
        box.value = value; box.dispatchEvent(new Event('input', {bubbles: true}));""",
    "filter_done": "const cells = [...document.querySelectorAll('#general_nlp-table td[data-col=team]')];"
                   " return cells.length > 0 && cells.every(td => td.textContent.includes(value))",
}
# gr.Dataframe 6.x: a virtual table of div rows; sorting is in each header's cell menu.
PLAIN = {
    "row": "#plain .virtual-row [role=gridcell]",
    "sort_action": "[...document.querySelectorAll('#plain th')][3].querySelector('.cell-menu-button').click();"
                   " window.__sortClicked = false;",
    "sort_done": """const item = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Sort ascending');
        if (item && !window.__sortClicked) { window.__sortClicked = true; item.click(); }
        const first = document.querySelector('#plain .virtual-row');
        return window.__sortClicked && first && parseFloat(first.children[3].textContent) === parseFloat(value)""",
    "filter_action": """const box = document.querySelector('#plain input.search-input');
        box.value = value; box.dispatchEvent(new Event('input', {bubbles: true}));""",
    "filter_done": "const rows = [...document.querySelectorAll('#plain .virtual-row')];"
                   " return rows.length > 0 && rows.every(r => r.textContent.includes(value))",
}


def measure(browser, url: str, spec: dict, cheapest: str, search: str) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="commit")
    page.wait_for_selector(spec["row"], timeout=180_000)
    render = page.evaluate("() => performance.now()")  # ms since navigation start
    sort = page.evaluate(WAIT_JS, [spec["row"], spec["sort_action"], spec["sort_done"], cheapest])
    filt = page.evaluate(WAIT_JS, [spec["row"], spec["filter_action"], spec["filter_done"], search])
    page.close()
    return {"render": render, "sort": sort, "filter": filt}


def run(sizes: list[int], repeats: int) -> dict:
    results = {}
    with chromium() as browser:
        for size in sizes:
            records = synthetic_records(size)
            search = records[len(records) // 2]["team"]
            cheapest = str(min(r["comm_gb"] for r in records))
            for name, factory, spec in (("ours", ours_app, OURS), ("plain gr.Dataframe", plain_app, PLAIN)):
                demo = factory(records)
                url = launch(demo)
                runs = [measure(browser, url, spec, cheapest, search) for _ in range(repeats)]
                demo.close()
                results[(name, size)] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(f"{name:>20} {size:>7,} rows: " + "  ".join(
                    f"{k} {v:8.0f} ms" for k, v in results[(name, size)].items()), flush=True)
    return results


def report(results: dict, sizes: list[int]) -> None:
    print("\n| rows | ours render | plain render | ours sort | plain sort | ours filter | plain filter |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        o, p = results[("ours", size)], results[("plain gr.Dataframe", size)]
        print(f"| {size:,} | {o['render']:.0f} ms | {p['render']:.0f} ms | {o['sort']:.0f} ms | {p['sort']:.0f} ms "
              f"| {o['filter']:.0f} ms | {p['filter']:.0f} ms |")
    smallest, largest = min(sizes), max(sizes)
    ratio = results[("ours", largest)]["render"] / results[("ours", smallest)]["render"]
    print(f"\nfirst render, ours: {largest:,} rows / {smallest:,} rows = {ratio:.2f}x "
          f"(target <= {TARGET_RENDER_RATIO}x) {'OK' if ratio <= TARGET_RENDER_RATIO else 'MISSED'}")
    for size in sizes:
        o, p = results[("ours", size)], results[("plain gr.Dataframe", size)]
        print(f"{size:>7,} rows: plain/ours render {p['render'] / o['render']:.2f}x, sort {p['sort'] / o['sort']:.2f}x, "
              f"filter {p['filter'] / o['filter']:.2f}x; ours sort {o['sort']:.0f} ms, filter {o['filter']:.0f} ms "
              f"(target <= {TARGET_MS} ms) {'OK' if max(o['sort'], o['filter']) <= TARGET_MS else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report(run(args.sizes, args.repeats), args.sizes)
