"""Rules for the tenant's named secrets (seed 001's secrets manager): names, types, sizes, status."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from switchyard.core.errors import InvalidInput, PayloadTooLarge

MAX_VALUE_BYTES = 64 * 1024
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")


class SecretType(StrEnum):
    API_KEY = "api_key"
    OAUTH_CLIENT_SECRET = "oauth_client_secret"
    PASSWORD = "password"
    TOKEN = "token"
    CERTIFICATE = "certificate"
    GENERIC = "generic"


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            f"invalid secret name {name[:80]!r}",
            code="secret.invalid_name",
            remediation="Start with a letter; then up to 127 letters, digits, '_', '.' or '-'.",
        )
    return name


def check_value(value: str) -> bytes:
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a secret value must be valid Unicode text", code="secret.invalid_value") from None
    if not raw:
        raise InvalidInput("a secret value cannot be empty", code="secret.empty_value")
    if len(raw) > MAX_VALUE_BYTES:
        raise PayloadTooLarge(
            f"a secret value may hold at most {MAX_VALUE_BYTES} bytes, got {len(raw)}",
            code="secret.value_too_large",
            remediation="Store large material (bundles, files) elsewhere and keep only its key here.",
        )
    return raw


def check_dates(
    expires_at: datetime | None,
    rotation_due_at: datetime | None,
    now: datetime,
    *,
    expiry_changed: bool = True,
) -> None:
    """A new expiry must lie ahead; a rotation date never lies after the expiry."""
    if expiry_changed and expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future", code="secret.invalid_expiry")
    if rotation_due_at is not None and expires_at is not None and rotation_due_at > expires_at:
        raise InvalidInput("rotation_due_at must not be after expires_at", code="secret.invalid_expiry")


def status_of(expires_at: datetime | None, rotation_due_at: datetime | None, now: datetime) -> str:
    """``active``, ``rotation_due`` or ``expired``."""
    if expires_at is not None and expires_at <= now:
        return "expired"
    if rotation_due_at is not None and rotation_due_at <= now:
        return "rotation_due"
    return "active"
