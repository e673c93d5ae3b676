"""``Connector``: one connection of one connector, whose actions are methods.

    connector = switchyard.get_connector("openai", "con_...")
    try:
        text = await connector.generate_text("Hello!", model="gpt-4.1")   # seed 001's named calls
        models = await connector.list_models()                             # any action, keyword input
        raw = await connector.proxy("GET", "/v1/models")                   # the provider's API itself
    finally:
        await connector.cleanup()

The first call lists the connector's actions once (and checks that the connection belongs to the
connector); after that an unknown action name fails at once with ``UnknownAction``, an ``AttributeError``.
An action whose name is also a method here (``run``, ``proxy``, ``cleanup``, ...) runs with ``run(name)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from switchyard.client import errors
from switchyard.client.models import ActionInfo, ActionResult, Connection, ProxyResponse, TestResult

if TYPE_CHECKING:
    from switchyard.client.api import Params, Switchyard

MAX_LISTED = 30  # action names quoted in an UnknownAction's detail


class ActionMethod:
    """``connector.<action>``: awaiting a call with keyword input runs the action and gives its output."""

    __slots__ = ("_connector", "name")

    def __init__(self, connector: Connector, name: str) -> None:
        self._connector = connector
        self.name = name

    async def __call__(self, **input: Any) -> Any:
        return await self._connector.run(self.name, **input)

    def __repr__(self) -> str:
        return f"<action {self.name} of {self._connector!r}>"


class Connector:
    """Acts through one connection. ``cleanup()`` (idempotent; also on leaving ``async with``) ends it and
    closes the HTTP client when the connector owns one (the module-level ``get_connector``)."""

    def __init__(
        self,
        client: Switchyard,
        connector_id: str,
        connection_id: str,
        *,
        connection: Connection | None = None,
        owns_client: bool = False,
    ) -> None:
        if not connector_id or not connection_id:
            raise ValueError("name both the connector and the connection")
        self._client = client
        self._connector_id = connector_id
        self._connection_id = connection_id
        self._connection = connection
        self._owns_client = owns_client
        self._actions: dict[str, ActionInfo] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def connector_id(self) -> str:
        return self._connector_id

    @property
    def connection_id(self) -> str:
        return self._connection_id

    @property
    def client(self) -> Switchyard:
        return self._client

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"Connector({self._connector_id!r}, {self._connection_id!r})"

    # -- lifecycle --------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.cleanup()

    async def cleanup(self) -> None:
        """Release what the connector holds; later calls raise ``UsageError`` (client.closed)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise errors.UsageError(f"{self!r} was cleaned up", code="client.closed")

    # -- actions ----------------------------------------------------------------------------------------

    async def actions(self) -> list[ActionInfo]:
        """The connector's actions with their schemas, listed from the server once and then cached."""
        return list((await self._catalog()).values())

    async def action(self, name: str) -> ActionInfo:
        """One action's description; ``UnknownAction`` when the connector has none of that name."""
        found = await self._catalog()
        if name not in found:
            raise self._unknown(name, found)
        return found[name]

    async def run(self, action: str, /, **input: Any) -> Any:
        """Run ``action`` with keyword ``input`` and give its output (checked against its schema)."""
        return (await self.run_action(action, input)).output

    async def run_action(self, action: str, input: Mapping[str, Any] | None = None) -> ActionResult:
        """Run ``action`` and give the whole result: output, attempts, duration, fallback."""
        await self.action(action)
        return await self._client.run_action(self._connection_id, action, input)

    async def _catalog(self) -> dict[str, ActionInfo]:
        self._check_open()
        async with self._lock:
            if self._actions is None:
                listed = await self._client.list_actions(await self._checked_connector())
                self._actions = {action.name: action for action in listed}
            return self._actions

    async def _checked_connector(self) -> str:
        connection = self._connection
        if connection is None:
            try:
                connection = await self._client.get_connection(self._connection_id)
            except errors.Forbidden:
                return self._connector_id  # a key without connections:read; each run is checked anyway
            self._connection = connection
        if connection.connector_id != self._connector_id:
            raise errors.UsageError(
                f"connection {connection.id} belongs to {connection.connector_id!r}, not {self._connector_id!r}",
                code="client.connector_mismatch",
                remediation=f"Use get_connector({connection.connector_id!r}, ...) for this connection.",
            )
        return self._connector_id

    def _unknown(self, name: str, found: Mapping[str, ActionInfo]) -> errors.UnknownAction:
        names = sorted(found)
        listed = ", ".join(names[:MAX_LISTED]) + (", ..." if len(names) > MAX_LISTED else "")
        error = errors.UnknownAction(
            f"{self._connector_id} has no action {name!r} (it has: {listed or 'none'})",
            code="action.not_found",
            remediation="See await connector.actions() for the names and their input fields.",
        )
        error.name, error.obj = name, self
        return error

    def __getattr__(self, name: str) -> ActionMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        known = self.__dict__.get("_actions")
        if known is not None and name not in known:
            raise self._unknown(name, known)
        return ActionMethod(self, name)

    def __dir__(self) -> Iterable[str]:
        return sorted({*super().__dir__(), *(self._actions or {})})

    # -- seed 001's calls -------------------------------------------------------------------------------

    async def generate_text(self, prompt: str, **options: Any) -> str | None:
        """OpenAI and Anthropic: the reply's text (None when the model gave none).

        Options: ``model``, ``system``, ``max_tokens``, ``temperature``; Anthropic also ``stop_sequences``.
        """
        output = await self.run("generate_text", prompt=prompt, **options)
        if output is None or isinstance(output, str):
            return output
        raise self._unexpected("generate_text", "text")

    async def create_embeddings(self, texts: str | Sequence[str], **options: Any) -> list[dict[str, Any]]:
        """OpenAI: one ``{"index", "embedding"}`` per text, in order. Options: ``model``, ``dimensions``."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        output = await self.run("create_embeddings", texts=texts, **options)
        if isinstance(output, list):
            return output
        raise self._unexpected("create_embeddings", "a list")

    async def scrape_url(self, url: str, **options: Any) -> dict[str, Any]:
        """Firecrawl: the page as ``markdown`` (and what ``formats`` asks for) with its ``metadata``.

        Options: ``formats``, ``only_main_content``, ``include_tags``, ``exclude_tags``, ``wait_for``,
        ``timeout``, ``mobile``.
        """
        output = await self.run("scrape_url", url=url, **options)
        if isinstance(output, dict):
            return output
        raise self._unexpected("scrape_url", "an object")

    def _unexpected(self, action: str, wanted: str) -> errors.BadResponse:
        return errors.BadResponse(
            f"{self._connector_id}.{action} did not give {wanted}", code="client.bad_response"
        )

    # -- the connection itself --------------------------------------------------------------------------

    async def test_connection(self) -> TestResult:
        """Test the connection live (a refusal is ``success=False``, not an exception)."""
        self._check_open()
        return await self._client.test_connection(self._connection_id)

    async def proxy(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        retries: int | None = None,
        retry_on: Iterable[int] | None = None,
        base_url_override: str | None = None,
    ) -> ProxyResponse:
        """A raw call to the provider's API with the connection's credentials (see ``Switchyard.proxy``)."""
        self._check_open()
        return await self._client.proxy(
            self._connection_id,
            method,
            path,
            params=params,
            headers=headers,
            json=json,
            content=content,
            retries=retries,
            retry_on=retry_on,
            base_url_override=base_url_override,
        )
