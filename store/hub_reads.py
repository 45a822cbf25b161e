"""The Hub store's reads (:class:`store.hub.HubStore`): a collection's records at a commit (downloading only
blobs not seen before), which record files exist (HEAD requests, no listing), one small file, and the commit
changes a transaction's writes make."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from huggingface_hub import RepoFile, RepoFolder, hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from store.base import Record, SetAside, check_record, dump_record
from store.record_contract import RecordRejected, read_record

if TYPE_CHECKING:
    from store.hub import HubStore


def git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def matches(entry: RepoFile, content: bytes) -> bool:
    """Whether downloaded bytes are the listed file (LFS files are listed by their sha256, others by blob id),
    which is what makes caching contents by blob id safe."""
    if entry.lfs is not None:
        return hashlib.sha256(content).hexdigest() == entry.lfs.sha256
    return git_blob_sha(content) == entry.blob_id


def present_at(store: HubStore, repo: str, collection: str, record_ids: list[str]) -> tuple[str, set[str]]:
    """The branch head and which of ``record_ids`` have a file there (one HEAD request per id; the first
    answer names the head, the others are asked at it)."""
    head, present = None, set()
    for record_id in record_ids:
        path = f"{collection}/{record_id}.json"
        url = hf_hub_url(repo, path, repo_type="dataset", revision=head or store.branch,
                         endpoint=store.api.endpoint)
        try:
            response = store._call(get_session().head, url, headers=build_hf_headers(token=store.api.token),
                                   follow_redirects=False, timeout=store.timeout_s)
            hf_raise_for_status(response)
            present.add(record_id)
        except EntryNotFoundError as missing:  # the Hub's answer still names the commit it looked at
            response = getattr(missing, "response", None)
        except HfHubHTTPError as error:
            raise store._read_error(repo, f"cannot read {repo}/{path}", error) from error
        head = head or (response.headers.get("X-Repo-Commit") if response is not None else None) \
            or store._head(repo)
    return head or store._head(repo), present


def snapshot(store: HubStore, repo: str, collection: str, head: str) -> dict[str, Record]:
    """Records of ``collection`` at commit ``head``; downloads only blobs not seen before. Files that are
    not records fitting the contract are set aside."""
    with store._cache_lock:
        cached = store._snapshots.get(collection)
        if cached and cached[0] == head:
            return cached[1]
        known = dict(store._blobs.get(collection, {}))
    try:
        entries = list(
            store._call(
                store.api.list_repo_tree, repo, path_in_repo=collection, revision=head, repo_type="dataset"
            )
        )
    except EntryNotFoundError:  # the collection's folder does not exist yet
        entries = []
    except HfHubHTTPError as error:
        raise store._read_error(repo, f"cannot list {repo}/{collection}", error) from error
    pattern = re.compile(rf"^{re.escape(collection)}/([^/]+)\.json$")
    blobs, records, set_aside = {}, {}, []
    for entry in entries:
        match = pattern.match(entry.path)
        if not match:
            continue
        record_id, where = match.group(1), f"{repo}/{entry.path}"
        if isinstance(entry, RepoFolder):
            set_aside.append(SetAside(collection, record_id, where, "is a folder, not a file"))
            continue
        content = known.get(entry.blob_id)
        if content is None:
            content = download(store, repo, entry.path, head)
        if not matches(entry, content):
            set_aside.append(SetAside(collection, record_id, where, f"does not match its listed hash at {head}"))
            continue
        blobs[entry.blob_id] = content
        try:
            records[record_id] = read_record(collection, record_id, content)
        except RecordRejected as rejected:
            set_aside.append(SetAside(collection, record_id, where, str(rejected)))
    store.set_aside.replace(collection, set_aside)
    with store._cache_lock:
        store._blobs[collection] = blobs
        store._snapshots[collection] = (head, records)
    if store.cache is not None:
        store.cache.save(repo, collection, head, records, set_aside)
    return records


def download(store: HubStore, repo: str, path: str, revision: str) -> bytes:
    """One small file, in memory (``hf_hub_download`` would add a HEAD request and a disk write)."""
    url = hf_hub_url(repo, path, repo_type="dataset", revision=revision, endpoint=store.api.endpoint)
    headers = build_hf_headers(token=store.api.token)
    try:
        response = store._call(get_session().get, url, headers=headers, follow_redirects=True,
                               timeout=store.timeout_s)
        hf_raise_for_status(response)
    except EntryNotFoundError:
        raise
    except HfHubHTTPError as error:
        raise store._read_error(repo, f"cannot read {repo}/{path}", error) from error
    return response.content


def changes(collection: str, writes: list[Record], removals: list[str],
            stored: dict[str, Record]) -> dict[str, bytes | None]:
    """Path -> content for each record that differs from what is stored (the last write of an id wins), and
    path -> None for each stored record removed (a written id is not removed)."""
    latest = {check_record(collection, record): record for record in writes}
    found: dict[str, bytes | None] = {
        f"{collection}/{record_id}.json": dump_record(record)
        for record_id, record in sorted(latest.items())
        if stored.get(record_id) != record
    }
    for record_id in sorted(set(removals) - set(latest)):
        if record_id in stored:
            found[f"{collection}/{record_id}.json"] = None
    return found
