"""Keeping secrets out of anything that is written down (log lines, error bodies).

A value is redacted when its key looks secret-like (``password``, ``token``, ``authorization`` ...), when
it contains a value the vault released in the current request, or when it contains a Switchyard API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

REDACTED = "[REDACTED]"
SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|authorization|cookie|credential|private[_-]?key"
    r"|master[_-]?key|plaintext|ciphertext)",
    re.IGNORECASE,
)
API_KEY_PATTERN = re.compile(r"syk_[a-z2-7]{13}_[A-Za-z0-9_-]{43}")


def _spellings(value: str) -> set[str]:
    """The value as it may appear in rendered text: itself, inside a repr, inside a JSON string."""
    return {value, repr(value)[1:-1], json.dumps(value)[1:-1]}


def redact_text(text: str, released: Collection[str]) -> str:
    for value in released:
        for spelling in _spellings(value):
            if spelling and spelling in text:
                text = text.replace(spelling, REDACTED)
    return API_KEY_PATTERN.sub(REDACTED, text)


def redact(value: Any, released: Collection[str], key: str | None = None) -> Any:
    if key is not None and SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value, released)
    if isinstance(value, Mapping):
        return {k: redact(v, released, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, released) for v in value]
    if isinstance(value, BaseException):
        return redact_text(str(value), released)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        # The vault hands out plaintext as bytes; a renderer would print them, so compare them as text.
        return _redacted_or_kept(value, bytes(value).decode("utf-8", errors="replace"), released)
    # Any other object reaches the log line through its repr (a dataclass holding a revealed value, say).
    return _redacted_or_kept(value, repr(value), released)


def _redacted_or_kept(value: Any, text: str, released: Collection[str]) -> Any:
    """``value`` itself when its text holds nothing to redact, else the redacted text."""
    cleaned = redact_text(text, released)
    return value if cleaned == text else cleaned
