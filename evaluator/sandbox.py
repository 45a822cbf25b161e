"""Run untrusted, model-generated programs in a separate, confined process.

Every program runs in a fresh temporary directory (its cwd, deleted afterwards) with a minimal
environment, resource limits (CPU seconds, address space, file size, open files; no core dumps) and a
wall-clock timeout. Where the ``unshare`` tool can create namespaces (Linux user namespaces enabled),
the program additionally runs:

* in a new **network** namespace: no interface is up, so nothing — not even a server on the host's
  127.0.0.1 — can be reached;
* in a new **mount** namespace where every mount is read-only except the temporary directory, so it
  cannot write (or delete) anything outside it;
* in a new **PID** namespace whose init is killed with the run, so no forked or daemonised child
  outlives it.

Where namespaces are unavailable (e.g. a container without user namespaces) programs still run with the
limits above and :func:`isolation` says why isolation is off; every :class:`Outcome` carries
``isolated`` so a result can record it. Nothing is ever executed in the caller's own process.
"""

from __future__ import annotations

import functools
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

PASSED, FAILED, TIMEOUT, ERROR = "passed", "failed", "timeout", "error"
log = logging.getLogger(__name__)

_SETUP_FAILED = "sandbox: could not set up the working directory"
# Runs inside the namespaces: make every mount read-only, then re-mount the working directory
# read-write on top of itself, and run the program as a child of this shell (PID 1 of the namespace), so
# death by a signal comes back as status 128+N (``unshare`` cannot re-raise a child's signal itself).
# Fails closed (exit 97) if the working directory cannot be set up.
_CONFINE_SH = r"""
w="$PWD"
awk '{print $2}' /proc/self/mounts | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null; done
mount --bind "$w" "$w" && mount -o remount,bind,rw "$w" && cd "$w" || { echo "%s" >&2; exit 97; }
"$@"
""" % _SETUP_FAILED
_UNSHARE = ("--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child")


@dataclass(frozen=True)
class Limits:
    """Per-step limits. ``wall_s`` is the hard wall-clock limit on the whole process tree."""

    wall_s: float = 15.0
    cpu_s: int = 20
    memory_mb: int = 4096  # address space per process (RLIMIT_AS)
    file_mb: int = 64  # largest file a process may write (RLIMIT_FSIZE)
    open_files: int = 256
    output_bytes: int = 16 * 1024  # tail kept of stdout and of stderr each


@dataclass(frozen=True)
class Outcome:
    """What happened to one program. ``status`` is passed | failed | timeout | error; ``error`` means
    the sandbox itself could not run the program (a missing tool, a setup failure), not a bad program."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    isolated: bool
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@functools.cache
def isolation() -> tuple[bool, str]:
    """Whether namespaces (network, mount, pid) can be used here, and how (or why not). Probed once."""
    available, how = _probe_namespaces()
    if not available:
        log.warning("sandbox runs WITHOUT network/filesystem/pid isolation: %s", how)
    return available, how


def _probe_namespaces() -> tuple[bool, str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False, "the 'unshare' tool is not installed"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as cwd:
        try:
            probe = subprocess.run(
                [unshare, *_UNSHARE, "sh", "-c", _CONFINE_SH, "confine", "true"],
                cwd=cwd, capture_output=True, timeout=20, env=_minimal_env(cwd),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"unshare failed: {exc}"
    if probe.returncode != 0:
        why = probe.stderr.decode(errors="replace").strip().splitlines()
        return False, f"namespaces unavailable: {why[-1] if why else probe.returncode}"
    return True, "network, mount and pid namespaces"



def run_steps(
    steps: Sequence[Sequence[str]],
    files: Mapping[str, str],
    limits: Limits = Limits(),
    pass_fd_marker: bool = False,
) -> Outcome:
    """Write ``files`` into a fresh temporary directory and run ``steps`` there one after another
    (e.g. compile, then run), each a separate confined process under ``limits``. The first step that
    fails decides the outcome; all steps exiting with 0 is ``passed``.

    With ``pass_fd_marker`` the last step gets an extra pipe whose descriptor number is appended to its
    argv; the step passes only if it exits 0 *and* writes ``ok`` to that pipe. The Python runner uses
    this so a program that exits early with status 0 does not count as passing its tests.
    """
    workdir = tempfile.mkdtemp(prefix="sandbox-")
    try:
        for name, text in files.items():
            path = os.path.join(workdir, name)
            if os.path.dirname(os.path.abspath(path)) != workdir:
                raise ValueError(f"file name must be a plain name: {name!r}")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        elapsed = 0.0
        for index, argv in enumerate(steps):
            last = index == len(steps) - 1
            outcome = _run_one(list(argv), workdir, limits, marker=pass_fd_marker and last)
            elapsed += outcome.duration_s
            outcome = replace(outcome, duration_s=elapsed)
            if not outcome.passed:
                if len(steps) > 1:
                    outcome = replace(outcome, detail=f"step {index + 1} ({argv[0]}): {outcome.detail}")
                return outcome
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _minimal_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _set_limits(limits: Limits) -> None:
    """preexec_fn: runs in the forked child before exec; only async-signal-safe-ish syscalls here."""
    mb = 1024 * 1024
    # CPU: SIGXCPU at the soft limit (reported as a timeout), SIGKILL a second later if ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    for which, value in (
        (resource.RLIMIT_AS, limits.memory_mb * mb),
        (resource.RLIMIT_FSIZE, limits.file_mb * mb),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


class _Tail(threading.Thread):
    """Drains a pipe so the program never blocks on output, keeping only the last ``cap`` bytes."""

    def __init__(self, stream, cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap, self.data = stream, cap, b""

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            self.data = (self.data + chunk)[-self.cap :]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _run_one(argv: list[str], workdir: str, limits: Limits, marker: bool) -> Outcome:
    isolated, _ = isolation()
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    if program is None:
        return Outcome(ERROR, None, "", "", 0.0, isolated, f"{argv[0]!r} is not installed")
    argv = [program, *argv[1:]]
    read_fd = write_fd = None
    if marker:
        read_fd, write_fd = os.pipe()
        argv.append(str(write_fd))
    if isolated:
        argv = [shutil.which("unshare"), *_UNSHARE, "sh", "-c", _CONFINE_SH, "confine", *argv]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, cwd=workdir, env=_minimal_env(workdir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=functools.partial(_set_limits, limits), pass_fds=(write_fd,) if marker else (),
        )
    except OSError as exc:
        return Outcome(ERROR, None, "", "", 0.0, isolated, f"could not start: {exc}")
    finally:
        if write_fd is not None:
            os.close(write_fd)
    out, err = _Tail(proc.stdout, limits.output_bytes), _Tail(proc.stderr, limits.output_bytes)
    out.start(), err.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc)
    proc.wait()
    out.join(5), err.join(5)
    duration = time.monotonic() - start
    confirmed = _read_marker(read_fd) if marker else True
    code = proc.returncode
    if timed_out:
        return Outcome(TIMEOUT, code, out.text(), err.text(), duration, isolated, f"wall clock > {limits.wall_s}s")
    if isolated and code == 97 and _SETUP_FAILED in err.text():
        return Outcome(ERROR, code, out.text(), err.text(), duration, isolated, "sandbox setup failed")
    if code == 0 and confirmed:
        return Outcome(PASSED, code, out.text(), err.text(), duration, isolated)
    if code == 0:
        detail = "exited before finishing its tests"
    elif code < 0 or code > 128:
        sig = -code if code < 0 else code - 128
        detail = f"killed by signal {signal.Signals(sig).name}" if sig in signal.valid_signals() else f"exit {code}"
        if sig == signal.SIGXCPU:
            return Outcome(TIMEOUT, code, out.text(), err.text(), duration, isolated, "CPU time limit")
    else:
        detail = f"exit status {code}"
    return Outcome(FAILED, code, out.text(), err.text(), duration, isolated, detail)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the whole session (with namespaces, killing ``unshare`` also kills the PID namespace)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_marker(read_fd: int) -> bool:
    os.set_blocking(read_fd, False)
    try:
        return os.read(read_fd, 16) == b"ok"
    except BlockingIOError:
        return False
    finally:
        os.close(read_fd)


def python_command() -> str:
    """The interpreter for generated Python: this one (same standard library and packages, as the
    official harness executes generations in-process), run isolated from environment and user site."""
    return sys.executable
