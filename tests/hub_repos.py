"""The local Hub's in-memory repos live in the product module ``localhub.repos``."""

from localhub.repos import Commit, HubError, Repo, git_blob_sha

__all__ = ["Commit", "HubError", "Repo", "git_blob_sha"]
