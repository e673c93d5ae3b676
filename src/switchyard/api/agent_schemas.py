"""Bodies of the agent run (``POST /api/v1/agent/run``) and the MCP client configuration export."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from switchyard.core.agent_loop import DEFAULT_STEPS, MAX_STEPS, Budget
from switchyard.services.agent import AgentRun


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class AgentRunIn(BaseModel):
    end_user_id: str = Field(description="The end user whose connected tools the agent may call.")
    prompt: str | None = Field(default=None, description="The user's request; or give messages.")
    messages: list[ChatMessage] | None = Field(default=None, description="A conversation to continue.")
    system: str | None = Field(default=None, description="A system instruction.")
    model: str = Field(description="The model name, e.g. gpt-4o-mini or claude-sonnet-4-5.")
    provider: Literal["openai", "anthropic"] = Field(
        default="openai",
        description="The wire format: OpenAI-compatible chat completions, or Anthropic Messages.",
    )
    base_url: str | None = Field(
        default=None,
        description="The model API's base URL (an OpenAI-compatible server); by default the provider's, "
        "or the integration's.",
    )
    api_key_secret: str | None = Field(
        default=None, description="The name of the secret holding the model key."
    )
    integration: str | None = Field(
        default=None,
        description="An integration whose connection holds the model key (sent through the proxy).",
    )
    integration_end_user_id: str | None = Field(
        default=None, description="Whose connection of `integration` holds the key; by default end_user_id."
    )
    tools_integration: str | None = Field(default=None, description="Offer only this integration's tools.")
    allowed_tools: list[str] | None = Field(default=None, description="Offer only these tools (by name).")
    max_steps: int = Field(default=DEFAULT_STEPS, ge=1, le=MAX_STEPS, description="Model calls at most.")
    time_limit_seconds: float = Field(default=120.0, gt=0, le=3600)
    max_tokens_total: int | None = Field(default=None, gt=0, description="Tokens (input + output) at most.")
    max_tokens_per_step: int | None = Field(default=None, gt=0, le=200_000)

    def to_run(self) -> AgentRun:
        return AgentRun(
            end_user_id=self.end_user_id,
            provider=self.provider,
            model=self.model,
            prompt=self.prompt,
            messages=[m.model_dump() for m in self.messages] if self.messages is not None else None,
            system=self.system,
            base_url=self.base_url,
            api_key_secret=self.api_key_secret,
            integration=self.integration,
            integration_end_user_id=self.integration_end_user_id,
            tools_integration=self.tools_integration,
            allowed_tools=self.allowed_tools,
            budget=Budget(self.max_steps, self.time_limit_seconds, self.max_tokens_total),
            max_tokens_per_step=self.max_tokens_per_step,
        )


class AgentEventOut(BaseModel):
    event: str
    data: dict[str, Any]


class AgentRunOut(BaseModel):
    stop_reason: str = Field(description="completed, max_steps, time_limit or token_limit")
    steps: int
    final_message: str | None = Field(description="The answer, or why the run stopped before one.")
    answer: str | None = Field(description="The model's last text.")
    usage: dict[str, int]
    elapsed_seconds: float
    events: list[AgentEventOut] = Field(description="Every event, as the event stream would have sent them.")


class McpConfigOut(BaseModel):
    format: str
    end_user_id: str
    integration: str | None
    server_url: str
    config: dict[str, Any] = Field(description="The client's configuration for the streamable-HTTP server.")
    stdio: dict[str, Any] = Field(
        description="The same server over stdio (`switchyard mcp`), in the same shape."
    )
    api_key_placeholder: str | None = Field(
        description="The environment variable the configuration expects the API key in; null when a token was minted."
    )
    token_expires_at: str | None = None
    tools_openai: list[dict[str, Any]]
    tools_anthropic: list[dict[str, Any]]
