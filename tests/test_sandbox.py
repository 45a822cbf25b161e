"""The sandbox runs real processes: limits, confinement and isolation are checked by observing them."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from evaluator.sandbox import BWRAP_ENV, UNSAFE_ENV, Limits, SandboxUnavailable, isolation, python_command, run_steps

PY = python_command()


def run_py(source: str, limits: Limits = Limits(wall_s=10)):
    return run_steps([[PY, "prog.py"]], {"prog.py": source}, limits)


def test_bwrap_isolation_is_available_here():
    # CI runs on this machine kind: the real sandbox must be exercised, not skipped.
    available, reason = isolation()
    assert available, f"sandbox isolation is off on this machine: {reason}"
    assert reason.startswith("bubblewrap") and "process limit: none" not in reason


def test_passing_and_failing_programs_and_exit_status():
    assert run_py("print('hello')").status == "passed"
    failed = run_py("raise ValueError('boom')")
    assert failed.status == "failed" and failed.returncode == 1
    assert "ValueError: boom" in failed.stderr


def test_wall_clock_timeout_kills_the_program():
    outcome = run_py("import time\ntime.sleep(60)", Limits(wall_s=1.0))
    assert outcome.status == "timeout"
    assert outcome.duration_s < 10


def test_cpu_time_limit():
    outcome = run_py("while True:\n    pass", Limits(wall_s=30, cpu_s=1))
    assert outcome.status == "timeout" and outcome.detail == "CPU time limit"
    assert outcome.duration_s < 15


def test_memory_bomb_is_stopped_by_the_address_space_limit():
    outcome = run_py("x = bytearray(2 * 1024**3)\nprint('allocated')", Limits(wall_s=20, memory_mb=512))
    assert outcome.status == "failed"
    assert "MemoryError" in outcome.stderr and "allocated" not in outcome.stdout


def test_output_is_capped_and_does_not_block():
    outcome = run_py("import sys\nfor _ in range(2000):\n    sys.stdout.write('x' * 10000)\nprint('END')",
                     Limits(wall_s=20, output_bytes=1000))
    assert outcome.status == "passed"
    assert len(outcome.stdout) == 1000 and outcome.stdout.endswith("END\n")


def test_environment_is_minimal(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret-token-value")
    outcome = run_py("import os\nprint(sorted(os.environ))\nprint(os.environ.get('HF_TOKEN'))")
    assert "secret-token-value" not in outcome.stdout
    assert "HF_TOKEN" not in outcome.stdout


def test_writes_stay_in_a_fresh_temporary_directory_that_is_removed(tmp_path: Path):
    outside = tmp_path / "escaped.txt"
    source = (
        "import os\n"
        "open('inside.txt', 'w').write('ok')\n"
        "print(os.getcwd())\n"
        "print(sorted(os.listdir('.')))\n"
        "for path in ('/usr/escaped.txt', '/escaped.txt', " + repr(str(outside)) + "):\n"
        "    try:\n"
        "        open(path, 'w').write('escaped')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    outcome = run_py(source)
    assert outcome.status == "passed", outcome.stderr
    cwd, listing, *errors = outcome.stdout.splitlines()
    assert (cwd, listing) == ("/sandbox", "['inside.txt', 'prog.py']")
    assert len(errors) == 3  # read-only /usr and /, and the host's temporary directory is not there
    assert not outside.exists() and not Path("/usr/escaped.txt").exists()
    assert not [p for p in Path(tempfile.gettempdir()).glob("sandbox-*") if (p / "inside.txt").exists()], (
        "the sandbox directory must be deleted afterwards")


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_forked_and_daemonised_children_do_not_outlive_the_run():
    marker = f"sandbox-daemon-{uuid.uuid4().hex}"
    source = (
        "import os, subprocess, sys\n"
        f"cmd = [sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}]\n"
        "for _ in range(3):\n"
        "    subprocess.Popen(cmd, start_new_session=True)  # escapes the process group\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    os.execv(sys.executable, cmd)\n"
        "print('spawned')\n"
    )
    outcome = run_py(source)
    assert outcome.status == "passed" and "spawned" in outcome.stdout
    assert _processes_with(marker) == []


def test_no_network_even_to_a_server_on_the_hosts_loopback(host_server: int):
    source = (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {host_server}), timeout=3)\n"
        "print(s.recv(5))\n"
    )
    # Control: the same program outside the sandbox does reach the server.
    direct = subprocess.run([PY, "-c", source], capture_output=True, text=True, timeout=20)
    assert "b'hello'" in direct.stdout
    outcome = run_py(source)
    assert outcome.status == "failed"
    assert "hello" not in outcome.stdout
    assert "Network is unreachable" in outcome.stderr or "Connection refused" in outcome.stderr


def test_a_sandbox_that_fails_to_set_up_is_an_error_and_a_program_cannot_pretend_it_did(monkeypatch):
    assert isolation()[0]
    posing = run_py("import sys\nprint('bwrap: Can\\'t mount proc', file=sys.stderr)\nsys.exit(1)")
    assert posing.status == "failed"
    monkeypatch.setenv(BWRAP_ENV, "false")  # bwrap that dies before setting anything up
    broken = run_py("print('hello')")
    assert broken.status == "error" and broken.detail == "sandbox setup failed"


def test_missing_tool_is_an_error_not_a_failure():
    outcome = run_steps([["no-such-compiler-xyz", "a.c"]], {"a.c": ""})
    assert outcome.status == "error" and "not installed" in outcome.detail


def test_without_bwrap_nothing_runs_and_the_operator_is_told_why(no_bwrap, tmp_path, caplog):
    marker = tmp_path / "ran.txt"
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap.*user namespaces.*EVALUATOR_UNSAFE"):
        run_py(f"open({str(marker)!r}, 'w').write('ran')")
    assert not marker.exists()
    assert isolation() == (False, "bubblewrap (no-such-bwrap-xyz) is not installed")
    assert "the sandbox is unavailable" in caplog.text


def test_the_unsafe_opt_in_runs_unconfined_but_still_limited_with_a_minimal_env(no_bwrap):
    no_bwrap.setenv(UNSAFE_ENV, "1")
    no_bwrap.setenv("HF_TOKEN", "hf_secrettokenvalue123")
    outcome = run_py("import os\nprint(sorted(os.environ))")
    bomb = run_py("x = bytearray(2 * 1024**3)", Limits(wall_s=20, memory_mb=512))
    assert outcome.status == "passed" and outcome.isolated is False and "HF_TOKEN" not in outcome.stdout
    assert bomb.status == "failed" and "MemoryError" in bomb.stderr
