"""Seed 002's ConnectorRequest, read and checked: the well-formedness step of the signed operate API.

``connector_request`` arrives as JSON text. ``parse_request`` reads it strictly (``parse_strict``: no
repeated names, no NaN, integers within +-(2**53 - 1); faults are ``request.invalid_json`` or
``signature.not_canonical``) and checks its members; every other fault is ``InvalidInput`` (422)
``operate.invalid_request``, or ``operate.sat_unsupported`` for a ``sat_reference`` that is not null::

    request_id            a UUID (kept lower-case, hyphenated: the replay key)
    connector_id          a string of 1-63 characters
    credential_reference  a string of 1-64 characters (the connection id)
    operation             a string of 1-63 characters (the action's name)
    parameters            a JSON object (the action's input)
    request_time          an RFC 3339 timestamp with an offset (kept in UTC)
    sat_reference         absent or null: scheduled access tokens are not supported
    request_signature     absent, null or a string (the signature may travel inside the request)

No other member is accepted: a signed member the server ignored would be a promise it does not keep. The
parsed ``document`` is kept as sent, because the signature covers its canonical form.

Pure: text in, a value or an ``InvalidInput`` out. Checking the signature, the time window and the
connection is ``services.operate``'s work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from switchyard.core.errors import InvalidInput
from switchyard.core.signing import parse_strict

REQUEST_MEMBERS = frozenset(
    {
        "request_id",
        "connector_id",
        "credential_reference",
        "operation",
        "parameters",
        "request_time",
        "sat_reference",
        "request_signature",
    }
)


@dataclass(frozen=True)
class ConnectorRequest:
    document: dict[str, Any]  # as the caller sent it; the signature covers its canonical form
    request_id: str  # normalised (lower-case UUID): the replay key
    connector_id: str
    credential_reference: str
    operation: str
    parameters: dict[str, Any]
    request_time: datetime
    signature: str | None


def invalid_request(detail: str, code: str = "operate.invalid_request") -> InvalidInput:
    """The 422 of an operate request that breaks a rule (``code`` names which kind)."""
    return InvalidInput(detail, code=code)


def _text(document: Mapping[str, Any], name: str, limit: int) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise invalid_request(f"connector_request.{name} must be a string of 1-{limit} characters")
    return value


def parse_request(text: str) -> ConnectorRequest:
    """Read and check a serialized ConnectorRequest; every fault is ``InvalidInput`` (422)."""
    document = parse_strict(text)
    if not isinstance(document, dict):
        raise invalid_request("connector_request must be a JSON object")
    unknown = sorted(set(document) - REQUEST_MEMBERS)
    if unknown:
        raise invalid_request(f"connector_request has unknown members: {', '.join(unknown)}")
    try:
        request_id = str(uuid.UUID(_text(document, "request_id", 64)))
    except ValueError:
        raise invalid_request("connector_request.request_id must be a UUID") from None
    parameters = document.get("parameters")
    if not isinstance(parameters, dict):
        raise invalid_request("connector_request.parameters must be a JSON object")
    try:
        request_time = datetime.fromisoformat(_text(document, "request_time", 64))
    except ValueError:
        raise invalid_request("connector_request.request_time must be an RFC 3339 timestamp") from None
    if request_time.tzinfo is None:
        raise invalid_request("connector_request.request_time needs a UTC offset (Z or +hh:mm)")
    if document.get("sat_reference") is not None:
        raise invalid_request(
            "scheduled access tokens are not supported; send sat_reference as null", "operate.sat_unsupported"
        )
    signature = document.get("request_signature")
    if signature is not None and not isinstance(signature, str):
        raise invalid_request("connector_request.request_signature must be a base64url string")
    return ConnectorRequest(
        document=document,
        request_id=request_id,
        connector_id=_text(document, "connector_id", 63),
        credential_reference=_text(document, "credential_reference", 64),
        operation=_text(document, "operation", 63),
        parameters=parameters,
        request_time=request_time.astimezone(UTC),
        signature=signature,
    )
