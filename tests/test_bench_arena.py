"""bench/arena.py at toy size (tiny Llama, a few tokens), so the benchmark cannot rot: it runs end to end and
prints each ratio the issue targets, measured against its baseline in the same run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_arena_bench_prints_its_ratios():
    out = subprocess.run([sys.executable, "bench/arena.py", "--model", "tiny", "--tokens", "6", "--repeats", "1",
                          "--skip-memory", "--threads", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    ratio = r"(\d+\.\d+)×"
    stream = re.search(rf"full stream / bare loop, per token: {ratio} \(target ≤ 1.1×\)", text)
    batched = re.search(rf"batched / sequential: tokens/s {ratio} \(target ≥ 1.2×\)", text)
    mixed = re.search(rf"mixed batch / bare base, per step: {ratio} stacked LoRA, {ratio} peft adapter_names", text)
    assert stream and batched and mixed, text
    assert all(float(v) > 0 for m in (stream, batched, mixed) for v in m.groups())
    assert re.search(r"\| bare base \| \d+\.\d+ \| 1\.00× \|", text)
