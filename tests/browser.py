"""Browser-test plumbing: start the real app in a subprocess on a free port, drive Debian's chromium."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Browser, sync_playwright

from store.base import Store
from store.factory import open_store

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_store(data_dir: Path) -> Store:
    """The store as the app opens it on ``data_dir``: requests and votes in its SQLite database, the rest as JSON
    files (seed it before the app starts, read what the app wrote through it)."""
    return open_store({"LEADERBOARD_DATA_DIR": str(data_dir)})


@contextlib.contextmanager
def running_app(data_dir: Path, extra_env: dict[str, str] | None = None, timeout: float = 90) -> Iterator[str]:
    """Run ``python app.py`` against ``data_dir``; yield its URL; stop it afterwards."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "LEADERBOARD_DATA_DIR": str(data_dir),
           "GRADIO_ANALYTICS_ENABLED": "False", "EVALUATOR_ENABLED": "0", **(extra_env or {})}
    log = open(data_dir.parent / f"app-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app exited early: {Path(log.name).read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"app did not start: {Path(log.name).read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` in the Gradio dropdown ``#elem_id`` and wait until it shows."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).locator("visible=true").first.click()
    page.locator(f"#{elem_id} input").press("Escape")
    page.wait_for_function(f"document.querySelector('#{elem_id} input').value === {json.dumps(option)}")
