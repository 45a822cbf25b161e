"""The bundled local Hub as a command (``python -m localhub``): it serves the sample adapters to the real
``huggingface_hub`` client, writes the sample evaluation data, and the Submit tab finds its catalog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download

from localhub.samples import BASE_MODEL, adapter_ids
from submissions.samples import local_sample_catalog, samples_markdown
from tests.browser import ROOT, free_port


@contextmanager
def serving(data: Path, *flags: str) -> Iterator[str]:
    """``python -m localhub`` on a free port with ``flags``, until the block ends; yields its URL."""
    port = free_port()
    with open(data / "log.txt", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "localhub", "--port", str(port), "--data", str(data),
                                    *flags], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while "serving on" not in (data / "log.txt").read_text():
                assert process.poll() is None, (data / "log.txt").read_text()
                assert time.monotonic() < deadline, "the local Hub did not start"
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


@pytest.fixture(scope="module")
def localhub(tmp_path_factory):
    data = tmp_path_factory.mktemp("localhub")
    with serving(data) as url:
        yield url, data


def test_serves_the_sample_adapters_to_huggingface_hub(localhub, tmp_path):
    url, _ = localhub
    api = HfApi(endpoint=url)
    adapter = adapter_ids("general_nlp")[0]
    files = {f.rfilename for f in api.model_info(adapter).siblings}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files
    config_path = hf_hub_download(adapter, "adapter_config.json", endpoint=url, cache_dir=tmp_path)
    assert json.loads(Path(config_path).read_text())["base_model_name_or_path"] == BASE_MODEL
    assert "config.json" in {f.rfilename for f in api.model_info(BASE_MODEL).siblings}


def test_writes_sample_data_for_every_flowertune_column(localhub):
    _, data = localhub
    names = {p.stem for p in (data / "eval-data").glob("*.jsonl")}
    assert names == {"mmlu", "fpb", "fiqa", "tfns", "pubmedqa", "medmcqa", "medqa", "careqa",
                     "mbpp", "humaneval", "multiple-js", "multiple-cpp"}
    mmlu = [json.loads(line) for line in (data / "eval-data" / "mmlu.jsonl").read_text().splitlines()]
    assert len({row["subject"] for row in mmlu}) == 57 and all(0 <= row["answer"] <= 3 for row in mmlu)


def test_submit_tab_lists_the_samples_only_from_a_local_hub(localhub):
    url, _ = localhub
    catalog = local_sample_catalog(url)
    assert catalog["adapters"]["code"] == adapter_ids("code")
    text = samples_markdown(catalog, {"general_nlp": "General NLP"})
    assert "General NLP: `sample/general-nlp-lora-a`" in text and "never ranked" in text
    assert local_sample_catalog(None) is None
    assert local_sample_catalog("https://huggingface.co") is None  # never asked
    assert local_sample_catalog(f"http://127.0.0.1:{free_port()}") is None  # nothing listening


def test_hub_limits_flag_enforces_the_hubs_quotas(localhub, tmp_path_factory):
    _, built = localhub
    data = tmp_path_factory.mktemp("limited")
    (data / "models").symlink_to(built / "models")  # the samples are built already
    with serving(data, "--hub-limits") as url:
        answer = httpx2.get(f"{url}/api/models/{BASE_MODEL}")
        assert answer.status_code == 200
        assert answer.headers["RateLimit-Policy"] == '"fixed window";"api";q=500;w=300'  # anonymous, by address
        assert "enforcing the Hub's limits" in (data / "log.txt").read_text()
    assert "RateLimit" not in httpx2.get(f"{localhub[0]}/api/models/{BASE_MODEL}").headers  # off by default
