"""Verified recipe entries served on their own weights: the merge is redone here, once, from the stored recipe.

The worker merged a recipe entry in a temporary folder it removed after scoring; what stays is the recipe
(every component pinned to a commit) and the sha256 of the merged weights (``merge.merged_sha256`` in the
result). On an entry's first message the arena downloads the components at those commits, merges them as the
worker did (:func:`merges.snapshots.merge_from_hub`, same seed, on the CPU) and keeps the result in
``<root>/<merged sha256>`` only when its weights hash to the recorded digest: an entry whose merge does not
reproduce is refused with a message (and not tried again until restart). One merge runs per digest however many
visitors ask; they all see its progress. The folder is ``ARENA_MERGE_CACHE`` (default ``$HF_HOME/arena-merges``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from merges.recipe import RecipeError, parse_recipe
from merges.snapshots import SnapshotError, merge_from_hub

log = logging.getLogger(__name__)
CACHE_ENV = "ARENA_MERGE_CACHE"


@dataclass(frozen=True)
class RecipeMerge:
    """What a recipe entry's weights are: the stored recipe and the digest its merge must reproduce."""

    recipe: str
    merged_sha256: str


class MergeUnavailable(Exception):
    """The entry's merged weights cannot be served; ``str(error)`` is the message for the visitor."""


@dataclass
class _Job:
    steps: list[str] = field(default_factory=list)  # what the merge did so far, in words (appended only)
    error: str | None = None
    lasting: bool = False  # the error stays: the merge gave other weights (retrying cannot help)
    done: threading.Event = field(default_factory=threading.Event)


class MergeCache:
    """Merged recipe entries under ``root``, one folder per merged-weights digest."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> MergeCache:
        configured = environ.get(CACHE_ENV, "").strip()
        if configured:
            return cls(Path(configured))
        from huggingface_hub import constants

        return cls(Path(constants.HF_HOME) / "arena-merges")

    def folder(self, merged_sha256: str) -> Path:
        """Where the entry's merged model is (or will be) kept."""
        return self.root / merged_sha256

    def prepare(self, entry: RecipeMerge, poll_s: float = 0.2) -> Iterator[str]:
        """Yield each step of the merge, in words, until the entry's weights are ready (nothing when they
        already are).

        Raises:
            MergeUnavailable: the merge failed or gave weights other than the recorded ones.
        """
        if self.folder(entry.merged_sha256).is_dir():
            return
        job, finished = self._start(entry), False
        seen = len(job.steps) if job.done.is_set() else 0  # a lasting refusal is not replayed step by step
        while not finished:
            finished = job.done.wait(poll_s)
            steps = job.steps[seen:]
            seen += len(steps)
            yield from steps
        if job.error is not None:
            raise MergeUnavailable(job.error)

    def _start(self, entry: RecipeMerge) -> _Job:
        with self._lock:
            job = self._jobs.get(entry.merged_sha256)
            if job is None or (job.done.is_set() and job.error is not None and not job.lasting):
                job = self._jobs[entry.merged_sha256] = _Job()
                threading.Thread(target=self._run, args=(entry, job), daemon=True,
                                 name=f"arena-merge-{entry.merged_sha256[:12]}").start()
            return job

    def _run(self, entry: RecipeMerge, job: _Job) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="merging-", dir=self.root))
        try:
            merged = merge_from_hub(parse_recipe(entry.recipe), work, on_step=job.steps.append)
            job.steps.append("checking the merged weights against the recorded sha256")
            if merged.weights_sha256 != entry.merged_sha256:
                job.lasting = True
                raise MergeUnavailable(
                    f"This entry's merge is not reproducible: redoing its recipe gave weights with sha256 "
                    f"{merged.weights_sha256[:12]}…, but the evaluated weights had {entry.merged_sha256[:12]}…. "
                    "It is not served.")
            if not self.folder(entry.merged_sha256).is_dir():  # another replica sharing the folder may have won
                os.replace(merged.path, self.folder(entry.merged_sha256))
        except MergeUnavailable as error:
            job.error = str(error)
        except RecipeError as error:
            job.error, job.lasting = f"This entry's stored recipe cannot be run: {error}", True
        except SnapshotError as error:
            job.error = f"This entry's merge could not be redone here: {error}. Try again later."
        except Exception as error:  # the visitor sees a message, the log the trace
            log.exception("arena: merging %s failed", entry.merged_sha256)
            job.error = f"This entry's merge could not be redone here ({type(error).__name__}: {error})."
        finally:
            shutil.rmtree(work, ignore_errors=True)
            job.done.set()
