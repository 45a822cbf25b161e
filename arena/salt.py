"""The salt of the hashed voter ids.

Voter ids are salted hashes of the account name (:func:`arena.votes.voter_id`); with an empty or public salt
anyone holding a list of user names could tell who voted what. Where the salt comes from, in order:

1. ``ARENA_VOTER_SALT`` (a Space secret), when set;
2. the private store: one random salt is created on first use as the record ``arena-voter-salt`` and kept
   there. It is written with ``put_missing`` and read back, so replicas starting together agree on the one
   that landed first;
3. otherwise: on a Space there is no safe salt and :class:`SaltUnavailable` says what to set; locally (where
   the local store always keeps a private collection this only happens with a custom store) no salt.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from store.base import Store
from store.timestamps import utc_stamp

SALT_RECORD = "arena-voter-salt"
MIN_LENGTH = 32


class SaltUnavailable(RuntimeError):
    """The arena has no secret salt; ``str(error)`` tells the operator what to set."""


def check_salt_source(store: Store, configured: str, on_space: bool) -> None:
    """Refuse, without touching the store, a Space that has neither a salt secret nor a private store."""
    if on_space and not configured.strip() and not store.serves("private"):
        raise SaltUnavailable(
            "The arena is off: it needs a secret salt for the hashed voter ids, and this Space has neither the "
            "ARENA_VOTER_SALT secret nor a private dataset (PRIVATE_DATASET) to keep one in. Set one of them "
            "(for example ARENA_VOTER_SALT = the output of `python -c \"import secrets; "
            "print(secrets.token_hex(32))\"`, as a secret) and restart the Space.")


def voter_salt(store: Store, configured: str, on_space: bool) -> str:
    """The salt to use (see the module docstring); may read and write the private store."""
    check_salt_source(store, configured, on_space)
    if configured.strip():
        return configured
    if not store.serves("private"):
        return ""
    created = utc_stamp(datetime.now(timezone.utc))
    store.put_missing("private", [{"id": SALT_RECORD, "salt": secrets.token_hex(32), "created_at": created}])
    record = store.get("private", SALT_RECORD) or {}
    salt = record.get("salt")
    if not isinstance(salt, str) or len(salt) < MIN_LENGTH:
        raise SaltUnavailable(
            f"The arena is off: the private store's record '{SALT_RECORD}' holds no usable salt (expected a "
            f"random string of at least {MIN_LENGTH} characters). Delete that record so a new salt is made "
            "(voters are then counted afresh), or set the ARENA_VOTER_SALT secret.")
    return salt
