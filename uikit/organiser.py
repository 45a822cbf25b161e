"""Who is an organiser: whoever types the ``ORGANISER_TOKEN`` secret the Space operator set (a Space secret, so it
is never shown). Shared by the organiser actions of several rooms (re-checking a published row, revealing a
hidden test); without the secret those actions are off."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

ORGANISER_TOKEN_ENV = "ORGANISER_TOKEN"


def organiser_refusal(typed: str, off: str, not_organiser: str,
                      environ: Mapping[str, str] = os.environ) -> str | None:
    """None when ``typed`` is the organiser token; otherwise why the caller is refused: ``off`` when the operator
    set no token, ``not_organiser`` when ``typed`` is not it (compared in constant time)."""
    secret = environ.get(ORGANISER_TOKEN_ENV, "")
    if not secret:
        return off
    if not hmac.compare_digest((typed or "").strip().encode(), secret.encode()):
        return not_organiser
    return None
