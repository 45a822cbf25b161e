"""The local Hub's routes: one HTTP request (already parsed) to one answer, on the server's in-memory repos.

Runs under the server's lock (``localhub.server``), so every request sees one consistent state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from localhub.repos import (
    Commit,
    HubError,
    Repo,
    byte_range,
    git_blob_sha,
    parse_commit,
    preupload_answer,
    repo_info,
    tree,
)
from localhub.tree_pages import tree_page

if TYPE_CHECKING:
    from localhub.server import HubServer

REPO_TYPES = {"models": "model", "datasets": "dataset"}
Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    range: str
    authorized: bool  # carries the server's token: may read private/gated repos and commit
    has_token: bool  # carries some token (the Hub then answers 404 instead of 401 for hidden repos)


class Routes:
    """Maps a request to an answer; runs under the server lock, so every request sees one consistent state."""

    def __init__(self, server: HubServer):
        self.server = server

    def __call__(self, request: Request) -> Answer:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in REPO_TYPES:
            repo = self.server.lookup(REPO_TYPES[parts[1]], f"{parts[2]}/{parts[3]}", request)
            return self.api(repo, request, parts[4:])
        repo_type = "dataset" if parts[0] == "datasets" else "model"
        parts = parts[1:] if parts[0] == "datasets" else parts
        if len(parts) >= 5 and parts[2] == "resolve" and request.method in ("GET", "HEAD"):
            repo = self.server.lookup(repo_type, f"{parts[0]}/{parts[1]}", request)
            return self.resolve(repo, parts[3], "/".join(parts[4:]), request)
        raise HubError(404, f"no route for {request.method} {request.path}")

    def api(self, repo: Repo, request: Request, rest: list[str]) -> Answer:
        if request.method == "GET" and (not rest or rest[0] == "revision"):
            commit = _commit_of(repo, rest[1] if len(rest) > 1 else "main")
            return _json(repo_info(repo, commit, self.server.publish_safetensors_totals))
        if request.method == "GET" and rest == ["refs"]:
            branches = [
                {"name": n, "ref": f"refs/heads/{n}", "targetCommit": sha} for n, sha in repo.branches.items()
            ]
            return _json({"branches": branches, "tags": [], "converts": []})
        if request.method == "GET" and len(rest) >= 2 and rest[0] == "tree":
            return self.tree(repo, request, rest[1], "/".join(rest[2:]))
        if request.method == "POST" and len(rest) == 2 and rest[0] in ("preupload", "commit"):
            if not request.authorized:
                raise HubError(401, "Invalid credentials in Authorization header")
            branch = rest[1]
            if branch not in repo.branches:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            if rest[0] == "preupload":
                files = repo.commits[repo.branches[branch]].files
                return _json(
                    {"files": preupload_answer(files, request.body), "commitOid": repo.branches[branch]}
                )
            return self.commit(repo, branch, request.body)
        raise HubError(404, "Not found")

    def tree(self, repo: Repo, request: Request, revision: str, path: str) -> Answer:
        flag = {name: request.query.get(name, ["false"])[0].lower() in ("1", "true")
                for name in ("recursive", "expand")}
        entries = tree(_commit_of(repo, revision), path, flag["recursive"])
        numbers = self.server.limits.numbers
        page_size = numbers.tree_expand_page_size if flag["expand"] else numbers.tree_page_size
        if not numbers.enforce or page_size is None:
            return _json(entries)
        page, headers = tree_page(entries, request.query, page_size, self.server.url + request.path)
        status, json_headers, body = _json(page)
        return status, {**json_headers, **headers}, body

    def resolve(self, repo: Repo, revision: str, path: str, request: Request) -> Answer:
        commit = _commit_of(repo, revision)
        if repo.gated and not request.authorized:
            message = f"Access to model {repo.repo_id} is restricted. You must have access to it and log in."
            raise HubError(
                403 if request.has_token else 401, message, "GatedRepo", {"X-Repo-Commit": commit.sha}
            )
        content = commit.files.get(path)
        if content is None:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
        status, headers, payload = byte_range(request.range, content)
        headers.update(
            {
                "Content-Type": "application/octet-stream",
                "X-Repo-Commit": commit.sha,
                "ETag": f'"{git_blob_sha(content)}"',
                "Accept-Ranges": "bytes",
            }
        )
        return status, headers, payload

    def commit(self, repo: Repo, branch: str, body: bytes) -> Answer:
        quota_key = f"{repo.repo_type}s/{repo.repo_id}"
        self.server.limits.check_commit(quota_key)
        header, files, deletions = parse_commit(body)
        parent = header.get("parentCommit")
        if parent is not None and not repo.branches[branch].startswith(parent):
            self.server.rejected_commits += 1
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        sha = self.server._commit(repo, branch, files, tuple(deletions), header.get("summary", ""))
        self.server.limits.note_commit(quota_key)
        prefix = "datasets/" if repo.repo_type == "dataset" else ""
        url = f"{self.server.url}/{prefix}{repo.repo_id}/commit/{sha}"
        return _json({"success": True, "commitOid": sha, "commitUrl": url})


def _commit_of(repo: Repo, revision: str) -> Commit:
    commit = repo.resolve(revision)
    if commit is None:
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
    return commit


def _json(data: object) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()


