"""Text that leaves the worker for a public record (program output, log tails) goes through :func:`redact`.

It is cut to its last ``limit`` characters and anything that looks like a secret is replaced: Hugging Face
tokens (``hf_…``), ``Authorization: Bearer …`` values, and the values of the configured secrets (every
environment variable whose name says TOKEN, SECRET, PASSWORD, KEY or SALT, with a value long enough to be
one), wherever they appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "[redacted]"
DEFAULT_LIMIT = 2000
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|KEY|SALT|CREDENTIAL", re.IGNORECASE)
_PATTERNS = (
    re.compile(r"\bhf_[A-Za-z0-9]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
)
_MIN_SECRET_LENGTH = 6  # shorter values ("1", "true") would blank out ordinary text


def configured_secrets(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Values of secret-named environment variables (a Space's secrets are environment variables)."""
    return [value for name, value in environ.items()
            if _SECRET_NAME.search(name) and len(value.strip()) >= _MIN_SECRET_LENGTH]


def redact(text: str | None, limit: int | None = DEFAULT_LIMIT, secrets: Iterable[str] | None = None) -> str | None:
    """The last ``limit`` characters of ``text`` with secret-looking strings replaced by ``[redacted]``.

    Secrets are replaced before cutting, so a secret split by the cut cannot survive in part."""
    if text is None:
        return None
    for secret in sorted(set(configured_secrets() if secrets is None else secrets), key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(lambda match: match.group(1) + REDACTED, text)
    if limit is not None and len(text) > limit:
        text = "…" + text[-(limit - 1):]
    return text
