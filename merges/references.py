"""Pinned component references in mergekit's syntax: ``owner/name@<commit>`` for a model and
``owner/base@<commit>+owner/adapter@<commit>`` for a LoRA adapter applied to a model (mergekit reads
``@revision`` and ``model+lora`` itself, so a pinned recipe runs unchanged in mergekit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

COMMIT = re.compile(r"[0-9a-f]{40}")
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
Kind = Literal["model", "lora"]


@dataclass(frozen=True)
class Component:
    """One Hub repo a recipe reads, at one commit: a full model or a LoRA adapter."""

    repo: str
    revision: str
    kind: Kind

    def __str__(self) -> str:
        return f"{self.repo}@{self.revision}"


def parse_reference(text: str) -> tuple[Component, ...]:
    """The components of one reference: (model,) or (model, lora).

    Raises:
        ValueError: with a participant-readable reason (not a Hub repo ID, not pinned to a commit).
    """
    parts = text.strip().split("+")
    if len(parts) > 2:
        raise ValueError(f"'{text}' has more than one '+': write 'owner/model@<commit>+owner/lora@<commit>'")
    kinds: tuple[Kind, ...] = ("model", "lora")
    return tuple(_pinned(part, kind) for part, kind in zip(parts, kinds, strict=False))


def _pinned(text: str, kind: Kind) -> Component:
    repo, at, revision = text.partition("@")
    if not REPO_ID.fullmatch(repo) or ".." in repo:
        raise ValueError(f"'{repo}' is not a Hub repo ID (owner/name)")
    if not at:
        raise ValueError(
            f"'{repo}' is not pinned: write '{repo}@<commit>' with the full 40-character commit hash"
        )
    if not COMMIT.fullmatch(revision.lower()):
        raise ValueError(
            f"'{repo}@{revision}' is not pinned to a commit: use the full 40-character commit hash, "
            "not a branch, tag or short hash"
        )
    return Component(repo, revision.lower(), kind)
