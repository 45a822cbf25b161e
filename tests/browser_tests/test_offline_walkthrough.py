"""README "Try it offline", step by step: the app started as `scripts/run.sh` starts it (its `start_local_hub`:
the bundled local Hub with samples, HF_ENDPOINT, sample data, a question limit), a sample adapter submitted
to General NLP in the browser, seen PENDING -> RUNNING -> FINISHED in the Queue tab, then on the board marked
"partial" without a rank, and its details opened (saying why). Only run.sh's installs are skipped."""

import os
import signal
import subprocess
import time
import urllib.request

import pytest

from challenges.definitions import challenges
from tests.browser import ROOT, app_store, choose, chromium, free_port
from tests.sweep import heavy

pytestmark = pytest.mark.timeout(900)


def start_like_run_sh(tmp_path):
    """`source scripts/lib.sh; start_local_hub ...; python app.py`, in its own process group."""
    port, hub_port = free_port(), free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "LEADERBOARD_DATA_DIR": str(tmp_path / "data"),
           "GRADIO_ANALYTICS_ENABLED": "False",
           "QUEUE_REFRESH_S": "1"}  # the shown Queue tab reads every second: a RUNNING of a few seconds is seen
    for name in ("HF_ENDPOINT", "REQUESTS_DATASET", "EVALUATOR_ENABLED", "EVALUATOR_LIMIT", "HF_HOME"):
        env.pop(name, None)
    script = f'source scripts/lib.sh && start_local_hub {hub_port} "{tmp_path}/localhub" && .venv/bin/python app.py'
    log = open(tmp_path / "run.log", "w")
    process = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process, log, url
        except OSError:
            time.sleep(0.3)


def queue_state(page) -> tuple[str, str]:
    page.click("#queue-refresh")
    page.wait_for_timeout(400)
    row = page.locator("#queue-table tr[data-id]").first
    if not row.count():
        return "", ""
    return row.locator("td[data-col=state]").inner_text(), row.locator("td[data-col=status]").inner_text()



def walk(page, url, data_dir, challenge, title) -> tuple[list, float]:
    """README steps 2-4 for one challenge; returns the states seen and the seconds from submit to details."""
    adapter = f"sample/{challenge.replace('_', '-')}-lora-a"
    page.goto(url)
    # Step 2: the Submit tab lists the sample adapters; fill the form with one of them
    page.get_by_role("tab", name="Submit").click()
    samples = page.locator("#submit-samples").inner_text()
    assert adapter in samples and "sample/tiny-llama" in samples
    choose(page, "submit-challenge", title)
    for name, value in dict(team="My Team", repo=adapter, base="sample/tiny-llama",
                            code="https://github.com/my/fl", comm="1", email="me@example.org").items():
        page.locator(f"#submit-{name} textarea, #submit-{name} input").first.fill(value)
    started = time.monotonic()
    page.click("#submit-button")
    page.wait_for_function("document.querySelector('#submit-outcome').innerText.includes('Queued as')")
    # Step 3: the Queue tab shows it waiting, running with its progress, finished
    page.get_by_role("tab", name="Queue").click()
    seen = []
    while time.monotonic() - started < 180:
        state, status = queue_state(page)
        if state and (not seen or seen[-1] != (state, status)):
            seen.append((state, status))
        if state in ("FINISHED", "FAILED"):
            break
    states = [state for state, _ in seen]
    assert states[-1] == "FINISHED", seen
    # RUNNING can last under a second on an idle machine (two questions per column), shorter than a Queue read:
    # the stored request says a worker claimed it and reported progress; a RUNNING seen showed that progress
    [request] = [r for r in app_store(data_dir).all("requests") if r["repo_id"] == adapter]
    assert request["attempts"] == 1 and request["worker"] and request["started_at"], request
    assert request["progress"]["total"] == len(challenges()[challenge].columns), request  # per column
    assert all(status == "starting" or status.startswith(("dataset ", "all ")) for state, status in seen
               if state == "RUNNING"), seen
    # Step 4: the board shows the row marked partial, without a rank; its badge opens the details, which say why
    page.get_by_role("tab", name=title, exact=True).click()
    page.click(f"#{challenge}-refresh")
    page.wait_for_function(f"document.querySelector('#{challenge}-table').innerText.includes('My Team')")
    row = page.locator(f"#{challenge}-table tbody tr", has_text="My Team").first
    assert row.locator("td[data-col=source]").inner_text() == "partial"
    assert row.locator("td[data-col=rank]").inner_text() == "—"
    link = row.locator("td[data-col=source] a").get_attribute("href")
    page.goto(url + "/" + link)
    page.wait_for_selector("#details h2")
    details = page.locator("#details").inner_text()
    assert adapter in details and "EVALUATOR_DATA_DIR" in details
    assert "a partial (smoke) run: local data override (EVALUATOR_DATA_DIR)" in details  # why, beside the source
    assert "local:" in details and "@sha256:" in details  # the dataset revisions read, in the provenance
    first = challenges()[challenge].columns[0].label  # the worker's Parquet details, first page of the first column
    page.wait_for_function("label => document.querySelector('#samples-page')?.innerText.includes(label + ': samples 1–')",
                           arg=first)
    return seen, time.monotonic() - started


CHALLENGES = {"general_nlp": "General NLP", "finance": "Finance", "medical": "Medical", "code": "Code"}


def test_readme_offline_walkthrough(tmp_path):
    """General NLP by default; every FlowerTune challenge (each within the README's 3 minutes) under
    ``RELIABILITY_SWEEP=1`` or ``OFFLINE_ALL_CHALLENGES=1``."""
    every = heavy() or os.environ.get("OFFLINE_ALL_CHALLENGES", "") not in ("", "0")
    process, log, url = start_like_run_sh(tmp_path)
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            for challenge in CHALLENGES if every else ["general_nlp"]:
                seen, seconds = walk(page, url, tmp_path / "data", challenge, CHALLENGES[challenge])
                print(f"{challenge}: {seen}; submit -> details in {seconds:.1f} s")
                assert seconds < 180
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        log.close()
