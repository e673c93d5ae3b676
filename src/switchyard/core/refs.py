"""Secret references inside a configuration (seed 001, options A and B).

A configuration may hold plain values (option A) and references ``{"secret_name": "openai_api_key"}``
(optionally with ``"version": 3``) anywhere in its nesting (option B). Seed 001's separate
``secrets_references`` mapping (``{"api_key": {"secret_name": ...}}``) is folded in under its keys.
Resolution replaces each reference with the plaintext, in a copy, for one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from switchyard.core.errors import InvalidInput
from switchyard.core.secrets import check_name

_REF_KEYS = frozenset({"secret_name", "version"})


@dataclass(frozen=True, order=True)
class SecretRef:
    name: str
    version: int | None = None


def _as_ref(value: Any, where: str) -> SecretRef | None:
    if not isinstance(value, Mapping) or "secret_name" not in value:
        return None
    extra = set(value) - _REF_KEYS
    name, version = value.get("secret_name"), value.get("version")
    if extra or not isinstance(name, str) or not (version is None or type(version) is int):
        raise InvalidInput(
            f"invalid secret reference at {where}",
            code="config.invalid_secret_reference",
            remediation='Write {"secret_name": "NAME"} with an optional integer "version".',
        )
    return SecretRef(check_name(name), version)


def merge(configuration: Mapping[str, Any], secrets_references: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fold seed 001's ``secrets_references`` into the configuration; a key may not be in both."""
    merged = dict(configuration)
    for key, ref in (secrets_references or {}).items():
        if key in merged:
            raise InvalidInput(
                f"{key!r} is both a plain value and a secret reference",
                code="config.invalid_secret_reference",
            )
        if _as_ref(ref, f"secrets_references.{key}") is None:
            raise InvalidInput(
                f"secrets_references.{key} is not a secret reference",
                code="config.invalid_secret_reference",
            )
        merged[key] = ref
    return merged


def find(config: Any, where: str = "$") -> set[SecretRef]:
    """Every reference in a configuration (validated)."""
    ref = _as_ref(config, where)
    if ref is not None:
        return {ref}
    found: set[SecretRef] = set()
    if isinstance(config, Mapping):
        for key, value in config.items():
            found |= find(value, f"{where}.{key}")
    elif isinstance(config, list):
        for index, value in enumerate(config):
            found |= find(value, f"{where}[{index}]")
    return found


def substitute(config: Any, values: Mapping[SecretRef, str]) -> Any:
    """A copy of ``config`` with every reference replaced by its value from ``values``."""
    ref = _as_ref(config, "$")
    if ref is not None:
        return values[ref]
    if isinstance(config, Mapping):
        return {key: substitute(value, values) for key, value in config.items()}
    if isinstance(config, list):
        return [substitute(value, values) for value in config]
    return config
