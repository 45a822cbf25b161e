"""Run untrusted, model-generated programs confined by bubblewrap (``bwrap``, Debian package ``bubblewrap``).

Every step runs as ``bwrap`` with its own user, pid, network, ipc, uts and cgroup namespaces, as uid/gid
65534 with no capabilities (so nothing can be re-mounted), no further user namespaces, a fresh ``/proc``
(only the sandbox's processes), a minimal ``/dev``, a small private ``/tmp``, read-only binds of only what
the toolchains need (``/usr``, the ``/bin``-style links, the dynamic linker's files in ``/etc`` and the base
Python's own prefix, its site-packages hidden) and one writable directory: a fresh temporary directory,
mounted at ``/sandbox`` (its cwd, deleted afterwards). Nothing of the project, the store, ``$HOME`` or
the Hugging Face cache is visible, the network is unreachable and the environment is minimal (no
tokens). Limits: CPU seconds, address space, file size, open files, no core dumps, a process count
(``RLIMIT_NPROC`` in the sandbox's own user namespace; where the evaluator runs as the host's root, which
that limit exempts, a ``pids`` cgroup when one is writable), the output kept (a tail) and a wall-clock
timeout that kills the whole tree (bwrap's pid namespace dies with it).

No isolation, no execution: when bwrap cannot confine a program here, :func:`run_steps` raises
:class:`SandboxUnavailable` (saying what the operator must install or enable) unless the operator set
``EVALUATOR_UNSAFE_NO_SANDBOX=1``, which runs programs unconfined with only the limits and the minimal
environment. Output is redacted (:func:`evaluator.redaction.redact`) before it leaves this module.
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
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from evaluator.redaction import redact

PASSED, FAILED, TIMEOUT, ERROR = "passed", "failed", "timeout", "error"
BWRAP_ENV = "EVALUATOR_BWRAP"  # the bubblewrap command to use (default: bwrap on PATH)
UNSAFE_ENV = "EVALUATOR_UNSAFE_NO_SANDBOX"  # "1": run generated code WITHOUT isolation (unsafe)
INSIDE = "/sandbox"  # where the working directory appears inside the sandbox
SANDBOX_ID = "65534"  # uid and gid inside (nobody)
_PRLIMIT = "/usr/bin/prlimit"
log = logging.getLogger(__name__)

OPERATOR_HELP = (
    "Install bubblewrap 0.8 or later (apt-get install bubblewrap) and allow unprivileged user namespaces "
    "(sysctl user.max_user_namespaces > 0; kernel.unprivileged_userns_clone=1 on older Debian kernels; "
    "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04). In Docker, start the worker with "
    "--security-opt seccomp=unconfined --security-opt apparmor=unconfined. Or set "
    f"{UNSAFE_ENV}=1 to run generated code without isolation (unsafe: only for trusted submissions)."
)


class SandboxUnavailable(RuntimeError):
    """Generated code cannot be confined here, so it is not run: the operator must act, not the participant."""


@dataclass(frozen=True)
class Limits:
    """Per-step limits. ``wall_s`` is the hard wall-clock limit on the whole process tree."""

    wall_s: float = 15.0
    cpu_s: int = 20
    memory_mb: int = 4096  # address space per process (RLIMIT_AS)
    file_mb: int = 64  # largest file a process may write (RLIMIT_FSIZE); also the size of /tmp
    open_files: int = 256
    processes: int = 64  # processes and threads inside the sandbox
    output_bytes: int = 16 * 1024  # tail kept of stdout and of stderr each


@dataclass(frozen=True)
class Outcome:
    """What happened to one program. ``status`` is passed | failed | timeout | error; ``error`` means
    the sandbox itself could not run the program (a missing tool, a setup failure), not a bad program.
    ``stdout``/``stderr`` are tails, already redacted."""

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


def unsafe_opt_in() -> bool:
    return os.environ.get(UNSAFE_ENV) == "1"


@functools.cache
def isolation() -> tuple[bool, str]:
    """Whether bwrap can confine programs here, and how (or why not). Probed once."""
    available, how = _probe()
    if not available:
        log.warning("the sandbox is unavailable: %s", how)
    return available, how


def require_isolation() -> tuple[bool, str]:
    """``isolation()``, or :class:`SandboxUnavailable` when there is none and the operator did not opt in."""
    available, how = isolation()
    if available:
        return available, how
    if unsafe_opt_in():
        log.warning("%s=1: generated code runs WITHOUT isolation (%s)", UNSAFE_ENV, how)
        return False, f"UNSAFE, no isolation ({how})"
    raise SandboxUnavailable(f"generated code was not run: the sandbox is unavailable ({how}). {OPERATOR_HELP}")


def _probe() -> tuple[bool, str]:
    bwrap = shutil.which(os.environ.get(BWRAP_ENV) or "bwrap")
    if bwrap is None:
        return False, f"bubblewrap ({os.environ.get(BWRAP_ENV) or 'bwrap'}) is not installed"
    if not os.path.exists(_PRLIMIT):
        return False, f"{_PRLIMIT} (util-linux) is missing"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as workdir:
        # Inside: no effective capabilities and nothing but the sandbox's own processes in /proc.
        check = "grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status && test $(ls -d /proc/[0-9]* | wc -l) -le 8"
        try:
            probe = subprocess.run(
                _bwrap_argv(bwrap, workdir, Limits()) + ["/bin/sh", "-c", check], capture_output=True,
                timeout=30, env=_minimal_env(INSIDE), stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bwrap failed: {exc}"
    if probe.returncode != 0:
        why = probe.stderr.decode(errors="replace").strip().splitlines()
        return False, f"bwrap cannot confine programs here: {why[-1] if why else f'exit {probe.returncode}'}"
    return True, (f"bubblewrap: user, pid, network, ipc, uts and cgroup namespaces, uid {SANDBOX_ID} without "
                  f"capabilities, read-only system, process limit: {_process_limit_kind()}")


def _host_root() -> bool:
    """Root of the initial user namespace, whose processes RLIMIT_NPROC does not count against."""
    try:
        with open("/proc/self/uid_map", encoding="ascii") as handle:
            return os.geteuid() == 0 and handle.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def _process_limit_kind() -> str:
    if not _host_root():
        return "RLIMIT_NPROC in the sandbox's user namespace"
    if _pids_cgroup_parent():
        return "pids cgroup"
    return "none (the evaluator runs as root and no pids cgroup is writable: run it as a non-root user)"


@functools.cache
def _pids_cgroup_parent() -> str | None:
    """A cgroup directory under which a per-run cgroup with ``pids.max`` can be made, if any."""
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        probe = os.path.join(base, f"sandbox-probe-{uuid.uuid4().hex}")
        try:
            if base == "/sys/fs/cgroup" and os.path.exists(os.path.join(base, "cgroup.subtree_control")):
                with open(os.path.join(base, "cgroup.subtree_control"), "w") as handle:
                    handle.write("+pids")
            os.mkdir(probe)
        except OSError:
            continue
        usable = os.path.exists(os.path.join(probe, "pids.max"))
        os.rmdir(probe)
        if usable:
            return base
    return None


def _bwrap_argv(bwrap: str, workdir: str, limits: Limits) -> list[str]:
    argv = [
        bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup", "--disable-userns", "--uid", SANDBOX_ID, "--gid", SANDBOX_ID, "--cap-drop", "ALL",
        "--die-with-parent", "--new-session", "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev",
        "--size", str(limits.file_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp",
        "--ro-bind", "/usr", "/usr",
    ]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            argv += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            argv += ["--ro-bind", name, name]
    for name in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        if os.path.exists(name):
            argv += ["--ro-bind", name, name]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    for packages in _base_site_packages(prefix):  # generated Python gets the standard library only
        argv += ["--tmpfs", packages, "--remount-ro", packages]
    nproc = f"--nproc={limits.processes}:{limits.processes}"
    return argv + ["--bind", workdir, INSIDE, "--remount-ro", "/", "--chdir", INSIDE, "--", _PRLIMIT, nproc, "--"]


@functools.cache
def _base_site_packages(prefix: str) -> tuple[str, ...]:
    paths = {sysconfig.get_path(key, vars={"base": prefix, "platbase": prefix}) for key in ("purelib", "platlib")}
    return tuple(sorted(p for p in paths if os.path.isdir(p)))


def run_steps(
    steps: Sequence[Sequence[str]],
    files: Mapping[str, str],
    limits: Limits = Limits(),
    stdin: bytes = b"",
) -> Outcome:
    """Write ``files`` into a fresh temporary directory and run ``steps`` there one after another
    (e.g. compile, then run), each a separate confined process under ``limits``; the last step reads
    ``stdin``. The first step that fails decides the outcome; all steps exiting with 0 is ``passed``.
    Raises :class:`SandboxUnavailable` when programs cannot be confined and the operator did not opt in."""
    isolated, _ = require_isolation()
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
            outcome = _run_one(list(argv), workdir, limits, isolated, stdin if last else b"")
            elapsed += outcome.duration_s
            outcome = replace(outcome, duration_s=elapsed)
            if not outcome.passed:
                if len(steps) > 1:
                    outcome = replace(outcome, detail=f"step {index + 1} ({argv[0]}): {outcome.detail}")
                return outcome
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _minimal_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _confine(limits: Limits, cgroup: str | None) -> None:
    """preexec_fn: runs in the forked child before exec (of bwrap, whose children inherit all this)."""
    if cgroup:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))
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
        return redact(self.data.decode("utf-8", errors="replace"), limit=None)


def _make_cgroup(limits: Limits) -> str | None:
    parent = _pids_cgroup_parent() if _host_root() else None
    if parent is None:
        return None
    path = os.path.join(parent, f"sandbox-{uuid.uuid4().hex}")
    os.mkdir(path)
    with open(os.path.join(path, "pids.max"), "w") as handle:
        handle.write(str(limits.processes + 4))  # + bwrap's own processes
    return path


def _remove_cgroup(path: str | None) -> None:
    for _ in range(100):
        try:
            if path:
                os.rmdir(path)
            return
        except OSError:
            time.sleep(0.02)  # the killed processes are still being reaped
    log.warning("could not remove cgroup %s", path)


def _run_one(argv: list[str], workdir: str, limits: Limits, isolated: bool, stdin: bytes) -> Outcome:
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    if program is None:
        return Outcome(ERROR, None, "", "", 0.0, isolated, f"{argv[0]!r} is not installed")
    argv = [program, *argv[1:]]
    # bwrap reports on this pipe once the sandbox is set up: no report means bwrap itself failed (the
    # program's own output cannot fake that).
    info_read, info_write = os.pipe() if isolated else (None, None)
    if isolated:
        bwrap = shutil.which(os.environ.get(BWRAP_ENV) or "bwrap")
        argv = [bwrap, "--info-fd", str(info_write)] + _bwrap_argv(bwrap, workdir, limits)[1:] + argv
    try:
        cgroup = _make_cgroup(limits) if isolated else None
    except OSError as exc:  # e.g. the cgroup filesystem turned read-only: the rlimit still applies
        log.warning("no pids cgroup for this run: %s", exc)
        cgroup = None
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, cwd=workdir, env=_minimal_env(INSIDE if isolated else workdir), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=functools.partial(_confine, limits, cgroup), pass_fds=(info_write,) if isolated else (),
        )
    except OSError as exc:
        _remove_cgroup(cgroup)
        return Outcome(ERROR, None, "", "", 0.0, isolated, f"could not start: {exc}")
    finally:
        if isolated:
            os.close(info_write)
    out, err = _Tail(proc.stdout, limits.output_bytes), _Tail(proc.stderr, limits.output_bytes)
    out.start(), err.start()
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except OSError:
        pass  # the program exited (or closed its input) before reading it
    timed_out = False
    try:
        proc.wait(timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc)
    proc.wait()
    out.join(5), err.join(5)
    proc.stdout.close(), proc.stderr.close()
    _remove_cgroup(cgroup)
    duration = time.monotonic() - start
    code = proc.returncode
    if isolated and not _reported(info_read):
        return Outcome(ERROR, code, out.text(), err.text(), duration, isolated, "sandbox setup failed")
    if timed_out:
        return Outcome(TIMEOUT, code, out.text(), err.text(), duration, isolated, f"wall clock > {limits.wall_s}s")
    if code == 0:
        return Outcome(PASSED, code, out.text(), err.text(), duration, isolated)
    if code < 0 or code > 128:
        sig = -code if code < 0 else code - 128
        detail = f"killed by signal {signal.Signals(sig).name}" if sig in signal.valid_signals() else f"exit {code}"
        if sig == signal.SIGXCPU:
            return Outcome(TIMEOUT, code, out.text(), err.text(), duration, isolated, "CPU time limit")
    else:
        detail = f"exit status {code}"
    return Outcome(FAILED, code, out.text(), err.text(), duration, isolated, detail)


def _reported(info_read: int) -> bool:
    os.set_blocking(info_read, False)
    try:
        return bool(os.read(info_read, 4096))
    except BlockingIOError:
        return False
    finally:
        os.close(info_read)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill bwrap's session; its pid namespace (and with it every process of the program) dies with it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def python_command() -> str:
    """The interpreter for generated Python: the base installation under this one (its standard
    library and own packages, never the evaluator's virtual environment), bound read-only into the sandbox."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
