"""A small local Hugging Face Hub: the part of the Hub HTTP API the Space uses (tests, and the offline
samples of ``python -m localhub``).

The real ``huggingface_hub`` client talks to it over real HTTP (``HfApi(endpoint=server.url)``), so tests
exercise the same requests, headers and error codes as production. Repos are in-memory and git-like: every
commit has a 40-hex sha and a full file map; branches point at commits.

Served endpoints (``{t}`` is ``models`` / ``datasets``):

- ``GET /api/{t}/{repo}`` and ``.../revision/{rev}``: repo info (sha, siblings, private, gated,
  lastModified, safetensors parameter totals);
- ``GET /api/{t}/{repo}/refs``; ``GET /api/{t}/{repo}/tree/{rev}[/{path}]`` (``recursive``; in pages
  with a ``Link`` header under limits, see ``localhub.tree_pages``);
- ``HEAD``/``GET /[datasets/]{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag``,
  ``Content-Length`` and ``Range``;
- ``POST /api/{t}/{repo}/preupload/{rev}`` (always "regular" upload mode, so no LFS) and
  ``POST /api/{t}/{repo}/commit/{rev}`` (NDJSON), which honours ``parentCommit`` like the Hub: a stale
  parent gets ``412 Precondition Failed`` "A commit has happened since. Please refresh and try again."

Errors carry the Hub's ``X-Error-Code`` header (``RepoNotFound``, ``GatedRepo``, ``RevisionNotFound``,
``EntryNotFound``), which is what the client turns into its typed exceptions. As on the Hub, a missing or
private repo answers 401 without a token and 404 with one; a gated repo shows its info but refuses files.
Only ``server.token`` may read private repos, read gated files or commit.

Limits (``localhub.limits``): ``HubServer(limits=Limits(HUB_LIMITS, VirtualClock()))`` refuses what the Hub
refuses (commits per repo per hour, API and resolver calls per token per 5 minutes) and pages tree listings;
by default it only counts. ``server.stats()`` gives the counts.

Faults for reliability tests: ``server.inject(Fault(...))`` makes matching requests answer an error status
(429, 500, ...) instead of being served, answer it *after* being served (a commit that landed but whose
answer was lost), arrive late, or be hung up on (a refused connection).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from localhub.limits import Limits
from localhub.repos import Commit, HubError, Repo
from localhub.routes import Request, Routes

__all__ = ["Fault", "HubServer", "Request"]


@dataclass
class Fault:
    """How the server misbehaves for requests whose method and path match (``path`` is a regex searched in
    the URL path). ``times`` is how many matching requests it spoils (``None``: all of them)."""

    path: str = ""
    method: str | None = None
    status: int | None = 500  # None: serve normally (with only the delay)
    after: bool = False  # serve the request first, then answer ``status`` (the change did happen)
    delay_s: float = 0.0
    hang_up: bool = False  # close the connection without an answer
    times: int | None = 1
    hits: int = 0  # how many requests it has spoiled so far

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and re.search(self.path, path) is not None


class HubServer:
    """An in-memory Hub on ``host:port`` (default: a free loopback port), serving in a background thread."""

    token = "hf_local_test_token"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()  # counts only, unless given the Hub's numbers
        self._repos: dict[tuple[str, str], Repo] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.bytes_sent = 0  # body bytes of every answer (file contents, ranges, JSON)
        self.rejected_commits = 0  # commits refused for a stale parent
        self.stopped = False
        self.publish_safetensors_totals = True  # False: clients must read the safetensors headers themselves
        self.faults: list[Fault] = []
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="hub-server", daemon=True
        )
        self._thread.start()
        self.url = f"http://{host}:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        """Stop serving (idempotent): new connections are refused, kept-alive ones are hung up on."""
        self.stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HubServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- test API -----------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        """Make matching requests fail as ``fault`` says; returns it (its ``hits`` count what it spoiled)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self.faults.remove(fault)
                    return fault
        return None

    def add_model(
        self,
        repo_id: str,
        files: dict[str, bytes],
        private: bool = False,
        gated: bool = False,
        date: datetime | None = None,
        sha: str | None = None,
    ) -> str:
        """Create a model repo with one commit holding ``files``; returns that commit's sha. ``date`` and
        ``sha`` set the commit's date and hash (a repo "uploaded" long ago, a commit a recipe pins)."""
        self._create(repo_id, "model", private=private, gated=gated)
        return self.push(repo_id, files, repo_type="model", date=date, sha=sha)

    def add_dataset(self, repo_id: str, files: dict[str, bytes] | None = None, private: bool = False) -> str:
        """Create a dataset repo (first commit holds ``.gitattributes``, like the Hub); returns the head."""
        self._create(repo_id, "dataset", private=private)
        return self.push(
            repo_id, {".gitattributes": b"*.bin filter=lfs\n", **(files or {})}, repo_type="dataset"
        )

    def push(
        self,
        repo_id: str,
        files: dict[str, bytes],
        repo_type: str = "model",
        branch: str = "main",
        deletions: tuple[str, ...] = (),
        message: str = "push",
        date: datetime | None = None,
        sha: str | None = None,
    ) -> str:
        """Commit ``files`` (added or replaced) and ``deletions`` on ``branch`` (created from main if new)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return self._commit(repo, branch, files, deletions, message, date=date, sha=sha)

    def head(self, repo_id: str, repo_type: str = "model", branch: str = "main") -> str:
        with self._lock:
            return self._repos[(repo_type, repo_id)].branches[branch]

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """The file map of a revision (a copy)."""
        with self._lock:
            commit = self._repos[(repo_type, repo_id)].resolve(revision)
            if commit is None:
                raise KeyError(revision)
            return dict(commit.files)

    def stats(self) -> dict:
        """Commits per repo per hour, API and resolver calls per caller per window, refusals: see
        :meth:`localhub.limits.Limits.stats`."""
        return self.limits.stats()

    def commit_count(self, repo_id: str, repo_type: str = "model") -> int:
        with self._lock:
            return len(self._repos[(repo_type, repo_id)].commits)

    # --- internals ----------------------------------------------------------------------------------
    def _create(self, repo_id: str, repo_type: str, private: bool = False, gated: bool = False) -> None:
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id} exists")
            self._repos[(repo_type, repo_id)] = Repo(repo_id, repo_type, private=private, gated=gated)

    def _commit(
        self,
        repo: Repo,
        branch: str,
        files: dict[str, bytes],
        deletions: tuple[str, ...],
        message: str,
        date: datetime | None = None,
        sha: str | None = None,
    ) -> str:
        """Create a commit on ``branch``; the caller holds ``self._lock``."""
        parent_sha = repo.branches.get(branch) or repo.branches.get("main")
        tree = dict(repo.commits[parent_sha].files) if parent_sha else {}
        for path in deletions:
            tree = {p: c for p, c in tree.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
        tree.update(files)
        self._counter += 1
        sha = sha or hashlib.sha1(f"{repo.repo_type}/{repo.repo_id}:{self._counter}:{message}".encode()).hexdigest()
        repo.commits[sha] = Commit(sha, parent_sha, tree, message, date or datetime.now(timezone.utc))
        repo.branches[branch] = sha
        return sha

    def lookup(self, repo_type: str, repo_id: str, request: Request) -> Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not request.authorized):
            raise HubError(404 if request.has_token else 401, "Repository not found", "RepoNotFound")
        return repo


# --- HTTP layer ----------------------------------------------------------------------------------------
def _bucket(path: str) -> str | None:
    """Which of the Hub's rate-limit buckets a request path falls in (pages are not served here)."""
    if path.startswith("/api/"):
        return "api"
    return "resolvers" if "/resolve/" in path else None


def _make_handler(server: HubServer) -> type[BaseHTTPRequestHandler]:
    route = Routes(server)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms ACK stalls

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            if server.stopped:
                self.close_connection = True
                return
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization", "")
            request = Request(
                method,
                url.path,
                parse_qs(url.query),
                body,
                self.headers.get("Range", ""),
                authorized=auth == f"Bearer {server.token}",
                has_token=auth.startswith("Bearer "),
            )
            fault = server._take_fault(method, url.path)
            if fault is not None and fault.delay_s:
                time.sleep(fault.delay_s)
            if fault is not None and fault.hang_up:
                self.close_connection = True
                return
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            bucket = _bucket(url.path)
            rate_headers: dict[str, str] = {}
            try:
                with server._lock:
                    server.requests.append((method, url.path))
                    if fault is not None and fault.status is not None and not fault.after:
                        raise HubError(fault.status, f"injected fault {fault.status}")
                    if bucket is not None:
                        rate_headers = server.limits.admit(bucket, token, self.client_address[0])
                    status, headers, payload = route(request)
                    if fault is not None and fault.status is not None:  # served, but the answer is lost
                        raise HubError(fault.status, f"injected fault {fault.status} after serving")
            except Exception as failure:  # any bug here answers 500, like a server, instead of hanging up
                error = (
                    failure
                    if isinstance(failure, HubError)
                    else HubError(500, f"internal error: {failure!r}")
                )
                headers = {"Content-Type": "application/json", **error.headers}
                if error.code:
                    headers["X-Error-Code"] = error.code
                headers["X-Error-Message"] = error.message
                status, payload = error.status, json.dumps({"error": error.message}).encode()
            headers = {**rate_headers, **headers}
            self.send_response(status)
            headers.setdefault("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)
                with server._lock:
                    server.bytes_sent += len(payload)

    return Handler
