"""Bodies of the actions API: a connector's action list, a run's input and its result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from switchyard.core.manifest.action_schema import Action
from switchyard.services.actions import ActionResult


class ActionOut(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    kind: str = Field(description="request, sql or hook")
    method: str | None = Field(default=None, description="The HTTP method, for request actions.")
    idempotent: bool
    paginated: bool
    fallback: str | None
    scopes: list[str]
    examples: list[dict[str, Any]]

    @classmethod
    def of(cls, action: Action) -> ActionOut:
        kind = "request" if action.request else "sql" if action.sql else "hook"
        return cls(
            name=action.name,
            description=action.description,
            input_schema=action.input_schema,
            output_schema=action.output_schema,
            kind=kind,
            method=action.request.method if action.request else None,
            idempotent=action.is_idempotent(),
            paginated=action.paginate,
            fallback=action.fallback,
            scopes=action.scopes,
            examples=action.examples,
        )


class ActionList(BaseModel):
    connector_id: str
    actions: list[ActionOut]


class ActionRunIn(BaseModel):
    input: dict[str, Any] = Field(default_factory=dict, description="Matches the action's input schema.")


class ActionRunOut(BaseModel):
    output: Any
    connection_id: str
    action: str
    provider: str
    attempts: int
    duration_ms: float
    fallback_from: str | None = Field(
        default=None, description="The action that failed, when a fallback ran."
    )

    @classmethod
    def of(cls, result: ActionResult) -> ActionRunOut:
        return cls(
            output=result.output,
            connection_id=result.connection_id,
            action=result.action,
            provider=result.provider,
            attempts=result.attempts,
            duration_ms=result.duration_ms,
            fallback_from=result.fallback_from,
        )
