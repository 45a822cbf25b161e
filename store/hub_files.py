"""Files beside the records in a Hub dataset repo (``<collection>/<name>``, e.g. ``details/<id>.parquet``), read by
HTTP ranges and written one file per commit, without listing the collection.

:class:`RangeFile` opens one file at one commit: its first request asks for the file's last 64 KiB (where a
Parquet footer is, and what pyarrow reads first), which also tells the file's size and the commit it was read at;
every later read asks for just the bytes it needs, at that commit, so a file replaced meanwhile is never read
half old, half new. A write reads the stored file at the branch head, lets the caller decide, and commits with
``parent_commit`` on that head: a race lost to another writer (412) looks at the stored file again.
"""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

import httpx2
from huggingface_hub import hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from store.base import StoreError, check_file_name, keeps
from store.hub_faults import (
    TRANSIENT_STATUS,
    FaultBudget,
    HubUnreachable,
    retry_after_s,
    status_of,
)

if TYPE_CHECKING:
    from store.hub import HubStore

TAIL_BYTES = 64 * 1024  # pyarrow's first read of a Parquet file: its footer
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of one Hub file at one commit that downloads only the ranges read."""

    def __init__(self, store: HubStore, repo: str, path: str, revision: str):
        """Reads the file's end; EntryNotFoundError when there is no such file at ``revision``."""
        super().__init__()
        self._store, self._repo, self._path = store, repo, path
        response = self._get(revision, f"bytes=-{TAIL_BYTES}")
        self.revision = _commit_of(response) or revision
        if response.status_code == 206:
            start, _, self.size = _content_range(response)
        else:  # the whole file came back
            start, self.size = 0, len(response.content)
        self._tail_start, self._tail = start, response.content
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: memoryview) -> int:
        end = min(self.size, self._position + len(buffer))
        if end <= self._position:
            return 0
        if self._position >= self._tail_start:
            data = self._tail[self._position - self._tail_start:end - self._tail_start]
        else:
            response = self._get(self.revision, f"bytes={self._position}-{end - 1}")
            data = response.content if response.status_code == 206 else response.content[self._position:end]
        if len(data) != end - self._position:
            raise StoreError(f"{self._repo}/{self._path} at {self.revision[:7]} came back shorter than asked")
        buffer[:len(data)] = data
        self._position = end
        return len(data)

    def _get(self, revision: str, byte_range: str) -> httpx2.Response:
        url = hf_hub_url(self._repo, self._path, repo_type="dataset", revision=revision,
                         endpoint=self._store.api.endpoint)
        headers = {**build_hf_headers(token=self._store.api.token), "Range": byte_range}
        try:
            response = self._store._call(get_session().get, url, headers=headers, follow_redirects=True,
                                         timeout=self._store.timeout_s)
            hf_raise_for_status(response)
        except EntryNotFoundError:
            raise
        except HfHubHTTPError as error:
            raise self._store._read_error(self._repo, f"cannot read {self._repo}/{self._path}", error) from error
        return response


def _commit_of(response: httpx2.Response) -> str | None:
    """The commit a resolve answer was served at (the Hub says it before any redirect to its file storage)."""
    for answer in (response, *response.history):
        if answer.headers.get("X-Repo-Commit"):
            return answer.headers["X-Repo-Commit"]
    return None


def _content_range(response: httpx2.Response) -> tuple[int, int, int]:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None:
        raise StoreError(f"the Hub answered a range request without a usable Content-Range: {response.url}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def open_at(store: HubStore, repo: str, path: str, revision: str) -> RangeFile | None:
    try:
        return RangeFile(store, repo, path, revision)
    except EntryNotFoundError:
        return None


def open_file(store: HubStore, collection: str, name: str) -> BinaryIO | None:
    """``<collection>/<name>`` at the branch head (pinned to that commit for every read), or None. While the Hub
    cannot be reached it fails at once (HubUnreachable), as the store's other reads then serve what they cached."""
    repo, path = store._repo(collection), check_file_name(collection, name)
    if store._in_outage(collection):
        raise HubUnreachable(f"the Hub could not be reached a moment ago; {path} is not read now")
    try:
        return open_at(store, repo, path, store.branch)
    except HubUnreachable:
        store._note_outage(collection)
        raise


def write_file(store: HubStore, collection: str, name: str, content: bytes,
               keep: Callable[[BinaryIO | None], bool]) -> bool:
    """One commit of ``<collection>/<name>`` on the head where ``keep`` saw the stored file and let it go; the Hub's
    faults and lost races are handled as :meth:`store.hub.HubStore.rewrite` handles them."""
    repo, path = store._repo(collection), check_file_name(collection, name)
    faults = FaultBudget(store.fault_attempts, store.fault_budget_s, store.fault_backoff_s)
    with store._repo_locks[repo]:
        for attempt in range(1, store.max_attempts + 1):
            try:
                head = store._head(repo)
                if keeps(keep, open_at(store, repo, path, head)):
                    return False
            except HubUnreachable as error:
                faults.wait_or_give_up(f"The Hub could not be read ({error})", None)
                continue
            faults.maybe_written = False  # a commit that landed earlier is what keep() just saw
            try:
                store._commit(repo, {path: content}, head)
                return True
            except HubUnreachable as error:  # the commit may have reached the Hub before the line broke
                faults.maybe_written = True
                faults.wait_or_give_up(f"The Hub could not be reached to commit to {repo} ({error})", None)
            except HfHubHTTPError as error:
                status = status_of(error)
                if status == 412:  # someone committed since `head`: look at the stored file again
                    time.sleep(random.uniform(0, min(store.max_backoff_s, store.backoff_s * 2**attempt)))
                elif status in TRANSIENT_STATUS:
                    faults.maybe_written = faults.maybe_written or status != 429
                    faults.wait_or_give_up(f"The Hub refused or failed the commit to {repo} ({status})",
                                           retry_after_s(error))
                else:
                    raise StoreError(f"The Hub refused the commit to {repo} ({status}); nothing was written: "
                                     f"{error}") from error
    raise StoreError(f"{path}: gave up after {store.max_attempts} conflicting commits to {repo}; nothing was written")

