"""Checking an action's input and output against its JSON Schemas (2020-12), and reading provider answers.

Validation errors name the field and the rule, never the value: an input may hold something private.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from switchyard.core import retry
from switchyard.core.errors import InvalidInput, ProviderRejected, RateLimited, UpstreamError
from switchyard.core.manifest.schema import RetryHints

MAX_REPORTED = 20
RECONNECT = "Test the connection; if the provider still refuses it, ask the end user to connect again."


class SchemaCache:
    """Compiled validators, one per schema object (definitions are parsed once and kept)."""

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        found = self._compiled.get(id(schema))
        if found is None or found[0] is not schema:
            found = (schema, Draft202012Validator(schema))
            self._compiled[id(schema)] = found
        return found[1]


def _where(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in instance]
        return ".".join(filter(None, [path, missing[0] if missing else ""])) or "(input)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema or {}).get("properties", {}))
        extra = sorted(name for name in error.instance if name not in allowed)
        return ".".join(filter(None, [path, extra[0] if extra else ""])) or "(input)"
    return path or "(input)"


def _rule(error: ValidationError) -> str:
    value = error.validator_value
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return "is not a known field"
    if error.validator == "type":
        return f"must be of type {value}"
    if error.validator == "enum" and isinstance(value, list):
        return "must be one of " + ", ".join(json.dumps(v) for v in value[:10])
    if isinstance(value, str | int | float | bool):
        return f"fails {error.validator} {value}"
    return f"fails {error.validator}"


def problems(validator: Draft202012Validator, document: Any) -> list[dict[str, str]]:
    errors: Iterable[ValidationError] = sorted(
        validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
    )
    return [{"field": _where(e), "rule": _rule(e)} for e in list(errors)[:MAX_REPORTED]]


def with_defaults(schema: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The input with each absent top-level property's schema ``default`` filled in (a model name, a size)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return payload
    defaults = {
        name: spec["default"]
        for name, spec in properties.items()
        if isinstance(spec, dict) and "default" in spec and name not in payload
    }
    return {**defaults, **payload} if defaults else payload


def check_input(validator: Draft202012Validator, payload: Any, action: str) -> None:
    found = problems(validator, payload)
    if found:
        listed = "; ".join(f"{p['field']} {p['rule']}" for p in found)
        raise InvalidInput(
            f"the input of {action} is not valid: {listed}",
            code="action.invalid_input",
            remediation="Send an input that matches the action's inputSchema (GET /api/v1/connectors/{id}/actions).",
            extra={"errors": found},
        )


def check_output(validator: Draft202012Validator, output: Any, action: str, status: int) -> None:
    found = problems(validator, output)
    if found:
        listed = "; ".join(f"{p['field']} {p['rule']}" for p in found)
        raise UpstreamError(
            f"the provider's answer to {action} does not match the action's output schema: {listed}",
            code="provider.bad_response",
            remediation="The provider changed its API or answered unexpectedly; report it to the connector's author.",
            upstream_status=status,
        )


def decode(body: bytes, status: int, provider: str) -> Any:
    """The JSON document of an answer; ``provider.bad_response`` with the status when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UpstreamError(
            f"{provider} answered with status {status} and a body that is not JSON",
            code="provider.bad_response",
            remediation="The provider may be down or behind a captive page; retry later.",
            upstream_status=status,
        ) from None


def _message(document: Any) -> str:
    if isinstance(document, dict):
        for key in ("message", "error_description", "error", "detail", "errors"):
            value = document.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return str(value)[:300]
    return json.dumps(document)[:300] if document is not None else ""


def refused(
    provider: str,
    status: int,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    hints: RetryHints,
) -> Exception:
    """The error for a provider's 4xx or 5xx answer, with its own message where it gave one."""
    try:
        message = _message(json.loads(body)) if body else ""
    except (ValueError, UnicodeDecodeError):
        message = body[:200].decode("utf-8", errors="replace")
    said = f"{provider} answered {status}" + (f": {message}" if message else "")
    if status == 429:
        wait = retry.server_wait(status, headers, hints)
        return RateLimited(said, retry_after=wait if wait is not None else 1.0, code="provider.rate_limited")
    if status >= 500:
        return UpstreamError(
            said, code="provider.unavailable", upstream_status=status,
            remediation="The provider is failing; retry later.",
        )  # fmt: skip
    if status in (401, 403):
        return ProviderRejected(
            said, code="provider.unauthorized", upstream_status=status, remediation=RECONNECT
        )
    if status == 404:
        return ProviderRejected(said, code="provider.not_found", upstream_status=status, status=404)
    return ProviderRejected(
        said, upstream_status=status, remediation="Check the action's input against the provider's rules."
    )
