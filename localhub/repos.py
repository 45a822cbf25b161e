"""In-memory git-like repos for the local test Hub, and the JSON the Hub answers about them (no HTTP here).

Each commit has a 40-hex sha and a full file map; branches point at commits. Blob ids are real git blob
hashes, as the Hub reports them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

_SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SAFETENSORS_DTYPES = {
    "F64",
    "F32",
    "F16",
    "BF16",
    "I64",
    "I32",
    "I16",
    "I8",
    "U8",
    "BOOL",
    "F8_E4M3",
    "F8_E5M2",
}


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


class HubError(Exception):
    """An error answer: status, ``X-Error-Code`` and the JSON ``error`` message."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


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


def tree(commit: Commit, path: str, recursive: bool) -> list[dict]:
    """The JSON of ``/api/.../tree/{rev}/{path}``: files and folders, direct children unless recursive."""
    prefix = path.strip("/") + "/" if path.strip("/") else ""
    entries: dict[str, dict] = {}
    for file_path, content in sorted(commit.files.items()):
        if not file_path.startswith(prefix):
            continue
        rest = file_path[len(prefix) :].split("/")
        # folders on the way down (every level when recursive, the first one otherwise)
        for depth in range(1, len(rest) if recursive else min(2, len(rest))):
            folder = prefix + "/".join(rest[:depth])
            entries.setdefault(
                folder, {"type": "directory", "oid": git_blob_sha(folder.encode()), "path": folder}
            )
        if recursive or len(rest) == 1:
            entries[file_path] = {
                "type": "file",
                "oid": git_blob_sha(content),
                "size": len(content),
                "path": file_path,
            }
    if prefix and not entries:
        raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha})
    return list(entries.values())


def byte_range(range_header: str, content: bytes) -> tuple[int, dict[str, str], bytes]:
    """Honour one ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range, as ``get_safetensors_metadata`` asks."""
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


def repo_info(repo: Repo, commit: Commit, safetensors_totals: bool = True) -> dict:
    """The JSON of ``/api/{models,datasets}/{repo}[/revision/{rev}]``."""
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
        totals = _safetensors_totals(commit.files) if safetensors_totals else None
        if totals:
            data["safetensors"] = totals
    return data


def preupload_answer(files: dict[str, bytes], body: bytes) -> list[dict]:
    """Upload modes for ``/preupload``: always "regular" (no LFS), with the blob id of an existing file, which
    the client uses to drop additions that would not change anything."""
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
    return answers


def parse_commit(body: bytes) -> tuple[dict, dict[str, bytes], list[str]]:
    """The NDJSON body of ``/commit``: (header, added files, deleted paths)."""
    try:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    except ValueError as error:
        raise HubError(400, f"malformed NDJSON body: {error}") from None
    if not lines or lines[0].get("key") != "header":
        raise HubError(400, "The first line must be the commit header")
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
    return lines[0]["value"], files, deletions
