"""The Hub's limits, for the local Hub: counted always, enforced only when a test or benchmark asks.

:data:`HUB_LIMITS` holds the Hub's numbers (https://huggingface.co/docs/hub/rate-limits, free user and
anonymous tiers, fixed 5-minute windows; the commit quota is not documented: ~128 commits per repo per hour
is the figure users report). :data:`NO_LIMITS` counts the same things and refuses nothing (the default).

- **Commits** (``POST .../commit/{rev}`` that land) per repo over a rolling hour: past the quota, 429 with the
  Hub's message :data:`COMMIT_QUOTA_MESSAGE` and ``Retry-After`` (seconds until the oldest commit of the hour
  leaves it). Commits made through ``HubServer.push`` (test set-up) are not counted.
- **API calls** (``/api/...``) and **resolver requests** (``/resolve/...``: file downloads, HEAD included) per
  caller, the bearer token or else the client's address, over fixed windows. Every answer in an enforced
  bucket carries the Hub's ``RateLimit: "api";r=<left>;t=<seconds to reset>`` and ``RateLimit-Policy:
  "fixed window";"api";q=<quota>;w=<window>``; past the quota, 429 with ``r=0``, which huggingface_hub turns
  into "you have reached your 'api' rate limit". Note that huggingface_hub's retrying calls (``http_backoff``:
  tree pages, preupload, downloads) then *sleep* the advertised reset in real seconds.
- **Tree listings** come in pages of ``tree_page_size`` entries (``tree_expand_page_size`` with
  ``expand=true``), followed through the ``Link: <...>; rel="next"`` header (see ``localhub.tree_pages``).

Time is :class:`VirtualClock` seconds, so a test can jump an hour ahead (``advance``) and a benchmark can run
time faster than the wall clock (``speed``). :meth:`Limits.stats` reports the counts, their peaks and the
refusals, and :meth:`Limits.peak_ratios` the peaks as fractions of the Hub's quotas.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field

from localhub.repos import HubError

COMMIT_QUOTA_MESSAGE = "You have exceeded our hourly quotas for action: commit. We invite you to retry later."


@dataclass(frozen=True)
class LimitNumbers:
    """Quotas (``None``: unlimited) and page sizes (``None``: one page), each settable on its own."""

    enforce: bool = True  # False: count only, never refuse, never paginate
    commits_per_repo: int | None = 128
    commit_window_s: float = 3600.0
    api_calls: int | None = 1000  # per token per window
    api_calls_anonymous: int | None = 500  # per IP address per window
    resolver_calls: int | None = 5000
    resolver_calls_anonymous: int | None = 3000
    window_s: float = 300.0
    tree_page_size: int | None = 1000
    tree_expand_page_size: int | None = 50


HUB_LIMITS = LimitNumbers()
NO_LIMITS = LimitNumbers(enforce=False)


class VirtualClock:
    """Seconds since the clock was made, running ``speed`` times the wall clock (0: stands still) plus every
    :meth:`advance`."""

    def __init__(self, speed: float = 0.0):
        self.speed = speed
        self._started = time.monotonic()
        self._advanced = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._advanced + self.speed * (time.monotonic() - self._started)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._advanced += seconds


def caller_of(token: str | None, address: str = "127.0.0.1") -> str:
    """The key a caller is counted under: a short hash of its token (tokens never appear in stats), or else
    its address."""
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]
    return f"ip:{address}"


@dataclass
class _Window:
    """A caller's count in the current fixed window, its peak over all windows, and its refusals."""

    index: int = -1
    count: int = 0
    peak: int = 0
    refused: int = 0


@dataclass
class _RepoCommits:
    times: deque = field(default_factory=deque)  # commit times within the last commit window
    peak: int = 0
    refused: int = 0
    total: int = 0


class Limits:
    """Counts a local Hub's traffic against ``numbers`` and refuses what the Hub would refuse."""

    def __init__(self, numbers: LimitNumbers = NO_LIMITS, clock: VirtualClock | None = None):
        self.numbers = numbers
        self.clock = clock or VirtualClock(speed=1.0)
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[str, _Window]] = {"api": {}, "resolvers": {}}
        self._commits: dict[str, _RepoCommits] = {}

    # --- per-request buckets ------------------------------------------------------------------------------
    def admit(self, bucket: str, token: str | None, address: str) -> dict[str, str]:
        """Count one request in ``bucket`` ("api" or "resolvers"); returns the RateLimit headers to answer
        with, or raises the Hub's 429 when the caller's quota for this window is spent."""
        quota = self._quota(bucket, anonymous=not token)
        now = self.clock()
        index = int(now // self.numbers.window_s)
        reset = max(1, math.ceil((index + 1) * self.numbers.window_s - now))
        with self._lock:
            window = self._buckets[bucket].setdefault(caller_of(token, address), _Window())
            if window.index != index:
                window.index, window.count = index, 0
            if quota is not None and window.count >= quota:
                window.refused += 1
                headers = self._ratelimit_headers(bucket, quota, 0, reset)
                raise HubError(429, f"Rate limit reached: {quota} '{bucket}' requests per "
                               f"{self.numbers.window_s:g} s. Retry after {reset} s.", headers=headers)
            window.count += 1
            window.peak = max(window.peak, window.count)
            count = window.count
        return {} if quota is None else self._ratelimit_headers(bucket, quota, quota - count, reset)

    def _quota(self, bucket: str, anonymous: bool) -> int | None:
        if not self.numbers.enforce:
            return None
        numbers = self.numbers
        if bucket == "api":
            return numbers.api_calls_anonymous if anonymous else numbers.api_calls
        return numbers.resolver_calls_anonymous if anonymous else numbers.resolver_calls

    def _ratelimit_headers(self, bucket: str, quota: int, left: int, reset: int) -> dict[str, str]:
        return {
            "RateLimit": f'"{bucket}";r={left};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};w={self.numbers.window_s:g}',
        }

    # --- commits ------------------------------------------------------------------------------------------
    def check_commit(self, repo: str) -> None:
        """Raise the Hub's 429 if ``repo`` has used up its commit quota for the last hour."""
        quota = self.numbers.commits_per_repo if self.numbers.enforce else None
        now = self.clock()
        with self._lock:
            commits = self._recent(repo, now)
            if quota is not None and len(commits.times) >= quota:
                commits.refused += 1
                wait = commits.times[len(commits.times) - quota] + self.numbers.commit_window_s - now
                raise HubError(429, COMMIT_QUOTA_MESSAGE, headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def note_commit(self, repo: str) -> None:
        now = self.clock()
        with self._lock:
            commits = self._recent(repo, now)
            commits.times.append(now)
            commits.total += 1
            commits.peak = max(commits.peak, len(commits.times))

    def _recent(self, repo: str, now: float) -> _RepoCommits:
        commits = self._commits.setdefault(repo, _RepoCommits())
        while commits.times and commits.times[0] <= now - self.numbers.commit_window_s:
            commits.times.popleft()
        return commits

    # --- reporting ----------------------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counts so far: per repo, commits in the last hour, the most in any hour (``peak``), all commits and
        refusals; per bucket and caller, requests in the current window, the most in any window, refusals."""
        now = self.clock()
        with self._lock:
            commits = {}
            for repo in self._commits:
                entry = self._recent(repo, now)
                commits[repo] = {"last_hour": len(entry.times), "peak": entry.peak, "total": entry.total,
                                 "refused": entry.refused}
            index = int(now // self.numbers.window_s)
            buckets = {
                bucket: {caller: {"window": w.count if w.index == index else 0, "peak": w.peak,
                                  "refused": w.refused} for caller, w in callers.items()}
                for bucket, callers in self._buckets.items()
            }
        return {"now_s": now, "limits": asdict(self.numbers), "commits": commits, **buckets}

    def peak_ratios(self, numbers: LimitNumbers = HUB_LIMITS) -> dict[str, float]:
        """The busiest repo's and the busiest caller's peaks as fractions of ``numbers`` (the Hub's, by
        default, whether enforced or not): above 1.0 the Hub would have refused some of it."""
        stats = self.stats()
        quotas = {"api": (numbers.api_calls, numbers.api_calls_anonymous),
                  "resolvers": (numbers.resolver_calls, numbers.resolver_calls_anonymous)}
        ratios = {"commits_per_repo_hour": max((c["peak"] for c in stats["commits"].values()), default=0)
                  / numbers.commits_per_repo}
        for bucket, (token_quota, anonymous_quota) in quotas.items():
            ratios[f"{bucket}_per_window"] = max(
                (c["peak"] / (anonymous_quota if caller.startswith("ip:") else token_quota)
                 for caller, c in stats[bucket].items()),
                default=0.0,
            )
        return ratios
