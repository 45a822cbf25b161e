"""The last good snapshot of each Hub collection, kept on disk so that a replica started while the Hub is down
can still show what was last read (with a note that it may be out of date).

One JSON file per dataset repo and collection, replaced atomically. A cache that cannot be written or read
costs only that start-up during an outage, so failures are logged, never raised.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from store.base import Record, SetAside

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedSnapshot:
    head: str
    records: dict[str, Record]
    read_at: datetime
    set_aside: list[SetAside]


class SnapshotCache:
    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)

    def _file(self, repo: str, collection: str) -> Path:
        return self.folder / f"{repo.replace('/', '--')}--{collection}.json"

    def save(self, repo: str, collection: str, head: str, records: dict[str, Record],
             set_aside: list[SetAside]) -> None:
        path = self._file(repo, collection)
        data = {"repo": repo, "collection": collection, "head": head,
                "read_at": datetime.now(timezone.utc).isoformat(), "records": records,
                "set_aside": [vars(item) for item in set_aside]}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(data, handle, ensure_ascii=False)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as error:
            log.warning("could not keep the %s snapshot in %s: %s", collection, path, error)

    def load(self, repo: str, collection: str) -> CachedSnapshot | None:
        path = self._file(repo, collection)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if (data["repo"], data["collection"]) != (repo, collection):
                return None
            return CachedSnapshot(data["head"], dict(data["records"]), datetime.fromisoformat(data["read_at"]),
                                  [SetAside(**item) for item in data["set_aside"]])
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring the unreadable snapshot cache %s: %s", path, error)
            return None
