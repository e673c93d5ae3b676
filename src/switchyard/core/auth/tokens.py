"""Random single-use tokens (OAuth state, connect-session tokens) and PKCE (RFC 7636).

Tokens are stored only as SHA-256 digests: a database reader cannot replay a state or a session.
"""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_token(prefix: str = "") -> str:
    """256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_code_verifier() -> str:
    """43-128 characters of the unreserved set (RFC 7636 section 4.1); 64 here."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 section 4.2)."""
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).decode("ascii").rstrip("=")
