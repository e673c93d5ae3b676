"""Tenant API keys: how they look, how they are stored, how a presented key is checked.

A key reads ``syk_<lookup prefix>_<secret>``. Only the prefix (an index, not a secret) and a SHA-256 digest
of the whole key are stored. A key carries 256 random bits, so a fast digest is as strong as a slow one
would be; the digest is compared in constant time, and an unknown prefix is compared against a dummy
digest so that unknown and wrong keys cost the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

KEY_PREFIX = "syk"
_LOOKUP_BYTES = 8
_SECRET_BYTES = 32
_PATTERN = re.compile(r"^syk_([a-z2-7]{13})_([A-Za-z0-9_-]{43})$")
_DIGEST_CONTEXT = b"switchyard/api-key/v1\x00"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly generated key: ``plaintext`` is shown once and never stored."""

    plaintext: str
    lookup: str
    digest: str


def _digest(plaintext: str) -> str:
    return hashlib.sha256(_DIGEST_CONTEXT + plaintext.encode("utf-8")).hexdigest()


# Compared against when the prefix is unknown, so that path does the same work as a wrong key.
DUMMY_DIGEST = _digest("syk_" + "a" * 13 + "_" + "A" * 43)


def issue() -> IssuedKey:
    lookup = base64.b32encode(os.urandom(_LOOKUP_BYTES)).decode("ascii").rstrip("=").lower()
    secret = base64.urlsafe_b64encode(os.urandom(_SECRET_BYTES)).decode("ascii").rstrip("=")
    plaintext = f"{KEY_PREFIX}_{lookup}_{secret}"
    return IssuedKey(plaintext=plaintext, lookup=lookup, digest=_digest(plaintext))


def lookup_of(presented: str) -> str | None:
    """The lookup prefix of a well-formed key, or None for anything else."""
    match = _PATTERN.fullmatch(presented)
    return match.group(1) if match else None


def matches(presented: str, stored_digest: str) -> bool:
    return hmac.compare_digest(_digest(presented), stored_digest)
