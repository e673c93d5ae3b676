"""How a secret value is shown to someone who may not see it: ``***key123``."""

from __future__ import annotations

MASK = "***"
_FULLY_MASKED_TYPES = frozenset({"password", "certificate"})


def shown(stored_mask: str, secret_type: str) -> str:
    """A mask stored when the value was written, as the secret's current type allows it to be shown."""
    return MASK if secret_type in _FULLY_MASKED_TYPES else stored_mask


def mask(value: str, secret_type: str = "generic") -> str:
    """Keep at most the last six characters, and never more than a quarter of the value."""
    if secret_type in _FULLY_MASKED_TYPES:
        return MASK
    visible = min(6, len(value) // 4)
    return MASK + value[-visible:] if visible else MASK
