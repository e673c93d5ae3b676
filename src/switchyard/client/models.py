"""Typed results of the client, each read from the JSON document the Switchyard API answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or ())


@dataclass(frozen=True)
class Credentials:
    """A connection's credentials as the API shows them: every secret value masked (``***key123``)."""

    connection_id: str
    credentials: dict[str, Any]
    configuration: dict[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Credentials:
        return cls(str(data["connection_id"]), dict(data["credentials"]), dict(data["configuration"]))

    def as_dict(self) -> dict[str, Any]:
        """Seed 001's flat view: the configuration with the masked credentials on top."""
        return {**self.configuration, **self.credentials}


@dataclass(frozen=True)
class TestResult:
    """A live connection test: ``status`` is the provider's HTTP status, when it answered."""

    success: bool
    error: str | None = None
    code: str | None = None
    status: int | None = None
    account_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestResult:
        status = data.get("status")
        return cls(
            success=bool(data["success"]),
            error=data.get("error"),
            code=data.get("code"),
            status=int(status) if status is not None else None,
            account_id=data.get("account_id"),
        )

    def as_dict(self) -> dict[str, Any]:
        """Seed 001's shape: ``{"success": ..., "error": ...}`` plus code, status and account_id."""
        return asdict(self)


@dataclass(frozen=True)
class ActionInfo:
    """One action of a connector, with the JSON Schemas of its input and output."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    kind: str
    method: str | None = None
    idempotent: bool = False
    paginated: bool = False
    fallback: str | None = None
    scopes: tuple[str, ...] = ()
    examples: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActionInfo:
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            input_schema=dict(data.get("input_schema") or {}),
            output_schema=data.get("output_schema"),
            kind=str(data.get("kind") or "request"),
            method=data.get("method"),
            idempotent=bool(data.get("idempotent")),
            paginated=bool(data.get("paginated")),
            fallback=data.get("fallback"),
            scopes=_strings(data.get("scopes")),
            examples=tuple(dict(example) for example in data.get("examples") or ()),
        )

    @property
    def fields(self) -> tuple[str, ...]:
        """The input's field names, as the schema declares them."""
        properties = self.input_schema.get("properties")
        return tuple(properties) if isinstance(properties, dict) else ()

    @property
    def required(self) -> tuple[str, ...]:
        return _strings(self.input_schema.get("required"))


@dataclass(frozen=True)
class ActionResult:
    """A run's output (checked against the output schema) and how it went."""

    output: Any
    connection_id: str
    action: str
    provider: str
    attempts: int
    duration_ms: float
    fallback_from: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActionResult:
        return cls(
            output=data["output"],
            connection_id=str(data["connection_id"]),
            action=str(data["action"]),
            provider=str(data["provider"]),
            attempts=int(data["attempts"]),
            duration_ms=float(data["duration_ms"]),
            fallback_from=data.get("fallback_from"),
        )


@dataclass(frozen=True)
class Connection:
    """An end user's connected account (never with its credentials)."""

    id: str
    connector_id: str
    integration_id: str
    end_user_id: str
    auth_type: str
    status: str
    created_at: datetime
    updated_at: datetime
    scopes: tuple[str, ...] = ()
    account_id: str | None = None
    expires_at: datetime | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    error: dict[str, Any] | None = None
    last_refreshed_at: datetime | None = None
    last_used_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Connection:
        return cls(
            id=str(data["id"]),
            connector_id=str(data["connector_id"]),
            integration_id=str(data["integration_id"]),
            end_user_id=str(data["end_user_id"]),
            auth_type=str(data["auth_type"]),
            status=str(data["status"]),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            updated_at=datetime.fromisoformat(str(data["updated_at"])),
            scopes=_strings(data.get("scopes")),
            account_id=data.get("account_id"),
            expires_at=_when(data.get("expires_at")),
            config=dict(data.get("config") or {}),
            metadata=dict(data.get("metadata") or {}),
            tags=_strings(data.get("tags")),
            error=data.get("error"),
            last_refreshed_at=_when(data.get("last_refreshed_at")),
            last_used_at=_when(data.get("last_used_at")),
        )


@dataclass(frozen=True)
class ConnectionPage:
    connections: tuple[Connection, ...]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConnectionPage:
        found = tuple(Connection.from_json(item) for item in data["connections"])
        return cls(found, data.get("next_cursor"))


@dataclass(frozen=True)
class ProxyResponse:
    """The provider's answer to a proxied call: its status, headers (lower-case names, repeated ones
    joined with ", "; without cookies and hop-by-hop headers) and body."""

    status: int
    headers: dict[str, str]
    content: bytes
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.content)
