"""A small local Hugging Face Hub for tests: the part of the Hub HTTP API the Space uses.

The real ``huggingface_hub`` client talks to it over real HTTP (``HfApi(endpoint=server.url)``), so tests
exercise the same requests, headers and error codes as production. Repos are in-memory and git-like: every
commit has a 40-hex sha and a full file map; branches point at commits.

Served endpoints (``{t}`` is ``models`` / ``datasets``):

- ``GET /api/{t}/{repo}`` and ``.../revision/{rev}``: repo info (sha, siblings, private, gated,
  lastModified, safetensors parameter totals);
- ``GET /api/{t}/{repo}/refs``; ``GET /api/{t}/{repo}/tree/{rev}[/{path}]`` (``recursive``);
- ``HEAD``/``GET /[datasets/]{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag``,
  ``Content-Length`` and ``Range``;
- ``POST /api/{t}/{repo}/preupload/{rev}`` (always "regular" upload mode, so no LFS) and
  ``POST /api/{t}/{repo}/commit/{rev}`` (NDJSON), which honours ``parentCommit`` like the Hub: a stale
  parent gets ``412 Precondition Failed`` "A commit has happened since. Please refresh and try again."

Errors carry the Hub's ``X-Error-Code`` header (``RepoNotFound``, ``GatedRepo``, ``RevisionNotFound``,
``EntryNotFound``), which is what the client turns into its typed exceptions. As on the Hub, a missing or
private repo answers 401 without a token and 404 with one; a gated repo shows its info but refuses files.
Only ``server.token`` may read private repos, read gated files or commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

REPO_TYPES = {"models": "model", "datasets": "dataset"}
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SAFETENSORS_DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}


def git_blob_sha(content: bytes) -> str:
    """The git blob id of a file, as the Hub reports it (``oid`` / ``blob_id``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, bytes]
    message: str
    date: datetime


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool = False
    gated: bool = False
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision.startswith("refs/heads/") and revision[len("refs/heads/") :] in self.branches:
            return self.commits[self.branches[revision[len("refs/heads/") :]]]
        if _SHORT_SHA.match(revision):
            matches = [c for sha, c in self.commits.items() if sha.startswith(revision)]
            if len(matches) == 1:
                return matches[0]
        return None


Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    range: str


class HubError(Exception):
    """An error answer: status, ``X-Error-Code`` and the JSON ``error`` message."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class HubServer:
    """An in-memory Hub on ``127.0.0.1:<free port>``, serving in a background thread."""

    token = "hf_local_test_token"

    def __init__(self) -> None:
        self._repos: dict[tuple[str, str], Repo] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.rejected_commits = 0  # commits refused for a stale parent
        self.publish_safetensors_totals = True  # False: clients must read the safetensors headers themselves
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="hub-server", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HubServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- test API -----------------------------------------------------------------------------------
    def add_model(self, repo_id: str, files: dict[str, bytes], private: bool = False, gated: bool = False) -> str:
        """Create a model repo with one commit holding ``files``; returns that commit's sha."""
        self._create(repo_id, "model", private=private, gated=gated)
        return self.push(repo_id, files, repo_type="model")

    def add_dataset(self, repo_id: str, files: dict[str, bytes] | None = None, private: bool = False) -> str:
        """Create a dataset repo (initial commit with ``.gitattributes``, like the Hub); returns the head sha."""
        self._create(repo_id, "dataset", private=private)
        return self.push(repo_id, {".gitattributes": b"*.bin filter=lfs\n", **(files or {})}, repo_type="dataset")

    def push(
        self,
        repo_id: str,
        files: dict[str, bytes],
        repo_type: str = "model",
        branch: str = "main",
        deletions: tuple[str, ...] = (),
        message: str = "push",
    ) -> str:
        """Commit ``files`` (added or replaced) and ``deletions`` on ``branch`` (created from main if new)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return self._commit(repo, branch, files, deletions, message)

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

    def commit_count(self, repo_id: str, repo_type: str = "model") -> int:
        with self._lock:
            return len(self._repos[(repo_type, repo_id)].commits)

    # --- internals ----------------------------------------------------------------------------------
    def _create(self, repo_id: str, repo_type: str, private: bool = False, gated: bool = False) -> None:
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id} exists")
            self._repos[(repo_type, repo_id)] = Repo(repo_id, repo_type, private=private, gated=gated)

    def _commit(self, repo: Repo, branch: str, files: dict[str, bytes], deletions: tuple[str, ...], message: str) -> str:
        """Create a commit on ``branch``; the caller holds ``self._lock``."""
        parent_sha = repo.branches.get(branch) or repo.branches.get("main")
        tree = dict(repo.commits[parent_sha].files) if parent_sha else {}
        for path in deletions:
            tree = {p: c for p, c in tree.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
        tree.update(files)
        self._counter += 1
        sha = hashlib.sha1(f"{repo.repo_type}/{repo.repo_id}:{self._counter}:{message}".encode()).hexdigest()
        repo.commits[sha] = Commit(sha, parent_sha, tree, message, datetime.now(timezone.utc))
        repo.branches[branch] = sha
        return sha

    def lookup(self, repo_type: str, repo_id: str, authorized: bool, has_token: bool) -> Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not authorized):
            raise HubError(404 if has_token else 401, "Repository not found", "RepoNotFound")
        return repo


# --- HTTP layer ----------------------------------------------------------------------------------------
def _iso(date: datetime) -> str:
    return date.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _safetensors_totals(files: dict[str, bytes]) -> dict | None:
    """Parameter counts per dtype over every ``*.safetensors`` file, like the Hub's ``safetensors`` field."""
    counts: dict[str, int] = {}
    for path, content in files.items():
        if not path.endswith(".safetensors") or len(content) < 8:
            continue
        size = int.from_bytes(content[:8], "little")
        try:
            header = json.loads(content[8 : 8 + size])
        except ValueError:
            continue
        for name, tensor in header.items():
            if name == "__metadata__" or tensor.get("dtype") not in _SAFETENSORS_DTYPES:
                continue
            n = 1
            for dim in tensor["shape"]:
                n *= dim
            counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + n
    return {"parameters": counts, "total": sum(counts.values())} if counts else None


def _tree(commit: Commit, path: str, recursive: bool) -> list[dict]:
    prefix = path.strip("/") + "/" if path.strip("/") else ""
    entries: dict[str, dict] = {}
    for file_path, content in sorted(commit.files.items()):
        if not file_path.startswith(prefix):
            continue
        rest = file_path[len(prefix) :].split("/")
        # folders on the way down (every level when recursive, the first one otherwise)
        for depth in range(1, len(rest) if recursive else min(2, len(rest))):
            folder = prefix + "/".join(rest[:depth])
            entries.setdefault(folder, {"type": "directory", "oid": git_blob_sha(folder.encode()), "path": folder})
        if recursive or len(rest) == 1:
            entries[file_path] = {"type": "file", "oid": git_blob_sha(content), "size": len(content), "path": file_path}
    if prefix and not entries:
        raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha})
    return list(entries.values())


def _range(range_header: str, content: bytes) -> tuple[int, dict[str, str], bytes]:
    """Honour a single ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range, as ``get_safetensors_metadata`` sends."""
    match = _RANGE.match(range_header)
    if not match or not content or not (match.group(1) or match.group(2)):
        return 200, {}, content
    if match.group(1):
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else len(content) - 1, len(content) - 1)
    else:  # suffix range: the last N bytes
        start, end = max(0, len(content) - int(match.group(2))), len(content) - 1
    if start >= len(content) or start > end:
        raise HubError(416, "Range Not Satisfiable", headers={"Content-Range": f"bytes */{len(content)}"})
    return 206, {"Content-Range": f"bytes {start}-{end}/{len(content)}"}, content[start : end + 1]


def _make_handler(server: HubServer) -> type[BaseHTTPRequestHandler]:
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
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization", "")
            has_token = auth.startswith("Bearer ")
            authorized = auth == f"Bearer {server.token}"
            try:
                with server._lock:
                    server.requests.append((method, url.path))
                    request = Request(method, url.path, parse_qs(url.query), body, self.headers.get("Range", ""))
                    status, headers, payload = route(request, authorized, has_token)
            except Exception as failure:  # any bug here answers 500, like a server, instead of hanging up
                error = failure if isinstance(failure, HubError) else HubError(500, f"internal error: {failure!r}")
                headers = {"Content-Type": "application/json", **error.headers}
                if error.code:
                    headers["X-Error-Code"] = error.code
                headers["X-Error-Message"] = error.message
                status, payload = error.status, json.dumps({"error": error.message}).encode()
            self.send_response(status)
            headers.setdefault("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)

    def json_answer(data: object) -> Answer:
        return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()

    def route(request: Request, authorized: bool, has_token: bool) -> Answer:
        method = request.method
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in REPO_TYPES:
            repo = server.lookup(REPO_TYPES[parts[1]], f"{parts[2]}/{parts[3]}", authorized, has_token)
            return api_route(repo, request, parts[4:], authorized)
        if parts[0] == "datasets":
            repo_type, parts = "dataset", parts[1:]
        else:
            repo_type = "model"
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            repo = server.lookup(repo_type, f"{parts[0]}/{parts[1]}", authorized, has_token)
            return resolve(repo, parts[3], "/".join(parts[4:]), request.range, authorized, has_token)
        raise HubError(404, f"no route for {method} {request.path}")

    def commit_of(repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def api_route(repo: Repo, request: Request, rest: list[str], authorized: bool) -> Answer:
        method, query, body = request.method, request.query, request.body
        if method == "GET" and (not rest or rest[0] == "revision"):
            commit = commit_of(repo, rest[1] if len(rest) > 1 else "main")
            return json_answer(info(repo, commit))
        if method == "GET" and rest == ["refs"]:
            branches = [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha} for name, sha in repo.branches.items()
            ]
            return json_answer({"branches": branches, "tags": [], "converts": []})
        if method == "GET" and rest and rest[0] == "tree" and len(rest) >= 2:
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            return json_answer(_tree(commit_of(repo, rest[1]), "/".join(rest[2:]), recursive))
        if method == "POST" and len(rest) == 2 and rest[0] in ("preupload", "commit"):
            if not authorized:
                raise HubError(401, "Invalid credentials in Authorization header")
            if rest[1] not in repo.branches:
                raise HubError(404, f"Invalid rev id: {rest[1]}", "RevisionNotFound")
            handle = do_preupload if rest[0] == "preupload" else do_commit
            return handle(repo, rest[1], body)
        raise HubError(404, "Not found")

    def info(repo: Repo, commit: Commit) -> dict:
        data = {
            "_id": git_blob_sha(repo.repo_id.encode())[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.sha,
            "private": repo.private,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "lastModified": _iso(commit.date),
            "createdAt": _iso(min(c.date for c in repo.commits.values())),
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }
        if repo.repo_type == "model":
            data["modelId"] = repo.repo_id
            totals = _safetensors_totals(commit.files) if server.publish_safetensors_totals else None
            if totals:
                data["safetensors"] = totals
        return data

    def resolve(repo: Repo, revision: str, file_path: str, range_header: str, authorized: bool, has_token: bool) -> Answer:
        commit = commit_of(repo, revision)
        if repo.gated and not authorized:
            message = f"Access to model {repo.repo_id} is restricted. You must have access to it and be authenticated."
            raise HubError(403 if has_token else 401, message, "GatedRepo", {"X-Repo-Commit": commit.sha})
        content = commit.files.get(file_path)
        if content is None:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
        status, headers, payload = _range(range_header, content)
        headers.update(
            {
                "Content-Type": "application/octet-stream",
                "X-Repo-Commit": commit.sha,
                "ETag": f'"{git_blob_sha(content)}"',
                "Accept-Ranges": "bytes",
            }
        )
        return status, headers, payload

    def do_preupload(repo: Repo, branch: str, body: bytes) -> Answer:
        files = commit_of(repo, branch).files
        answers = []
        for entry in json.loads(body)["files"]:
            existing = files.get(entry["path"])
            answers.append(
                {
                    "path": entry["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha(existing) if existing is not None else None,
                }
            )
        return json_answer({"files": answers, "commitOid": repo.branches[branch]})

    def do_commit(repo: Repo, branch: str, body: bytes) -> Answer:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line must be the commit header")
        header = lines[0]["value"]
        parent = header.get("parentCommit")
        if parent is not None and not repo.branches[branch].startswith(parent):
            server.rejected_commits += 1
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files: dict[str, bytes] = {}
        deletions: list[str] = []
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, "only base64 file content is supported here")
                files[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                deletions.append(value["path"])
            else:
                raise HubError(400, f"unsupported commit operation {key!r} (this test Hub has no LFS)")
        sha = server._commit(repo, branch, files, tuple(deletions), header.get("summary", ""))
        prefix = "datasets/" if repo.repo_type == "dataset" else ""
        return json_answer(
            {"success": True, "commitOid": sha, "commitUrl": f"{server.url}/{prefix}{repo.repo_id}/commit/{sha}"}
        )

    return Handler
