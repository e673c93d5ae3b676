"""Actions in a connector definition: typed operations run by a request template, SQL or a Python hook."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from switchyard.core.manifest.model import Model

ACTION_NAME = r"^[a-z][a-z0-9_]{0,62}$"
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class ActionRequest(Model):
    """The HTTP call a declarative action makes, as templates over the action's input.

    ``{{name}}`` in ``path``, ``query`` and ``headers`` takes an input field (or a connection-config field);
    a query parameter or header whose placeholders are all absent is left out. In ``body`` (any JSON), a
    string that is exactly ``"{{name}}"`` takes the input value with its JSON type, and an object key whose
    value is absent is dropped; ``"{{input}}"`` is the whole input.
    """

    method: HttpMethod = "GET"
    path: str = Field(description="Relative to the proxy base URL, e.g. /repos/{{owner}}/{{repo}}/issues.")
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default=None, description="A JSON template; see the class description.")
    body_format: Literal["json", "form"] = "json"


class ActionResponse(Model):
    """How the action's output is read from the provider's answer."""

    select: str | None = Field(
        default=None,
        description="Dotted path into the JSON answer (list indexes as numbers): choices.0.text.",
    )
    ok_path: str | None = Field(
        default=None, description="A boolean in the answer that must be true (Slack's ok), else an error."
    )
    error_path: str | None = Field(
        default=None,
        description="Where the provider's error message is; without okPath, a value there is itself a "
        "failure (GraphQL's errors.0.message in a 200 answer).",
    )
    empty: Literal["null", "object"] = Field(
        default="null", description="What a 204 or an empty body becomes: null or {}."
    )


class Action(Model):
    """A typed action: a JSON Schema input and output, run by a request template, SQL or a Python hook."""

    name: str = Field(pattern=ACTION_NAME, description="snake_case, unique within the connector.")
    description: str = Field(min_length=1, description="What it does, for people and for LLM tool lists.")
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False},
        description="JSON Schema 2020-12 of the input; an object at the top level.",
    )
    output_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema of the output.")
    request: ActionRequest | None = None
    response: ActionResponse = ActionResponse()
    paginate: bool = Field(default=False, description="Collect every page with the definition's pagination.")
    max_pages: int = Field(default=20, ge=1, le=1000)
    sql: Literal["query", "list_tables"] | None = Field(
        default=None, description="For database connectors: run a read-only query, or list the tables."
    )
    hook: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The name of an `async def fn(ctx, input)` in the connector's Python module.",
    )
    idempotent: bool | None = Field(
        default=None, description="Whether retrying is safe; default: true for GET, HEAD, PUT and DELETE."
    )
    fallback: str | None = Field(
        default=None, description="Another action of this connector to run when this one's provider fails."
    )
    scopes: list[str] = Field(default_factory=list, description="Provider scopes the action needs.")
    examples: list[dict[str, Any]] = Field(
        default_factory=list, description="Example inputs; each must match the input schema."
    )

    @model_validator(mode="after")
    def _one_way_to_run(self) -> Action:
        ways = [name for name in ("request", "sql", "hook") if getattr(self, name) is not None]
        if len(ways) != 1:
            raise ValueError("an action needs exactly one of request, sql or hook")
        if self.input_schema.get("type") != "object":
            raise ValueError("inputSchema must describe an object (type: object)")
        return self

    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.request is not None and self.request.method in {"GET", "HEAD", "PUT", "DELETE"}
