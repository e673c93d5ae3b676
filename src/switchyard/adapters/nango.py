"""A client for a Nango server's REST API: seed 003's ``nango`` auth provider delegates to it.

The endpoints, as Nango's API reference documents them (``Authorization: Bearer <secret key>``)::

    POST   /connect/sessions                {end_user, tags, allowed_integrations} -> 201 {data: {token, connect_link, expires_at}}
    GET    /connections/{id}?provider_config_key=..[&force_refresh=true][&refresh_token=true] -> 200 connection with credentials
    GET    /connections[?endUserId=..]      -> 200 {connections: [...]}  (no credentials)
    DELETE /connections/{id}?provider_config_key=..                     -> 200 {success: true}

Errors come as ``{"error": {"code": ..., "message": ...}}``. They are translated here, by what the caller
should do: unreachable, timeout or 5xx is ``Unavailable`` (``nango.unavailable``); 401/403 is
``FatalError`` (``nango.unauthorized``: the secret key is wrong); 404 on a connection is ``NotFound``
(``nango.connection_not_found``); any other 4xx is ``InvalidInput`` (``nango.rejected``, with Nango's
message); an answer that cannot be read is ``FatalError`` (``nango.invalid_response``). No message ever
carries the secret key or a credential: bodies are never quoted, only Nango's own error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2

from switchyard.core.errors import (
    ConfigurationError,
    FatalError,
    InvalidInput,
    NotFound,
    SwitchyardError,
    Unavailable,
)

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_RETRY_LATER = "Nothing was changed; try again when the Nango server is back."
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class NangoSession:
    token: str = field(repr=False)
    connect_link: str | None = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class NangoConnection:
    connection_id: str
    provider_config_key: str
    provider: str
    credentials: dict[str, Any] = field(repr=False)  # as Nango returns it: {type, access_token, ...}
    end_user_id: str | None
    created_at: datetime
    metadata: dict[str, Any]


@dataclass(frozen=True)
class NangoConnectionRef:
    connection_id: str
    provider_config_key: str
    provider: str
    end_user_id: str | None


class _Malformed(Exception):
    """A body that does not have the documented shape (internal; becomes ``nango.invalid_response``)."""


class NangoClient:
    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        try:
            parts = urlsplit(base_url)
            parts.port  # noqa: B018 - raises ValueError when out of range
        except ValueError:
            raise _bad_url() from None
        loopback = parts.hostname in _LOOPBACK
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise _bad_url()
        if not secret_key:
            raise ConfigurationError(
                "the nango auth provider needs a secret key",
                code="config.nango_secret_key_missing",
                remediation="Set SWITCHYARD_NANGO_SECRET_KEY.",
            )
        self._secret_key = secret_key
        try:
            self.client = httpx2.AsyncClient(
                base_url=base_url.rstrip("/"),
                headers={"Authorization": f"Bearer {secret_key}", "Accept": "application/json"},
                timeout=timeout,
                transport=transport,
                follow_redirects=False,
            )
        except httpx2.InvalidURL:
            raise _bad_url() from None

    async def close(self) -> None:
        await self.client.aclose()

    async def create_connect_session(
        self,
        end_user_id: str,
        email: str | None,
        display_name: str | None,
        allowed_integrations: Sequence[str],
        *,
        tags: Mapping[str, str] | None = None,
    ) -> NangoSession:
        """A short-lived (30 minutes at Nango) session whose token opens Nango's Connect UI for one end user."""
        end_user: dict[str, Any] = {"id": end_user_id}
        session_tags = {"end_user_id": end_user_id}
        if email is not None:
            end_user["email"] = email
            session_tags["end_user_email"] = email
        if display_name is not None:
            end_user["display_name"] = display_name
            session_tags["end_user_display_name"] = display_name
        if tags:
            end_user["tags"] = dict(tags)
            session_tags = {**tags, **session_tags}
        body = {
            "end_user": end_user,
            "tags": session_tags,
            "allowed_integrations": list(allowed_integrations),
        }
        answer = await self._call("POST", "/connect/sessions", "create a connect session", json=body)
        try:
            data = _obj(answer, "data")
            return NangoSession(
                token=_str(data, "token"),
                connect_link=_opt_str(data, "connect_link"),
                expires_at=_time(data, "expires_at"),
            )
        except _Malformed:
            raise _invalid_response("create a connect session") from None

    async def get_connection(
        self,
        connection_id: str,
        provider_config_key: str,
        *,
        force_refresh: bool = False,
        include_refresh_token: bool = False,
    ) -> NangoConnection:
        """The connection with fresh credentials (Nango refreshes an expired access token on this call)."""
        params = {"provider_config_key": provider_config_key}
        if force_refresh:
            params["force_refresh"] = "true"
        if include_refresh_token:
            params["refresh_token"] = "true"
        path = _connection_path(connection_id)
        answer = await self._call("GET", path, "get a connection", params=params, connection=True)
        try:
            return NangoConnection(
                connection_id=_str(answer, "connection_id"),
                provider_config_key=_str(answer, "provider_config_key"),
                provider=_str(answer, "provider"),
                credentials=_obj(answer, "credentials"),
                end_user_id=_end_user_id(answer),
                created_at=_time(answer, "created_at"),
                metadata=_opt_obj(answer, "metadata"),
            )
        except _Malformed:
            raise _invalid_response("get a connection") from None

    async def list_connections(self, *, end_user_id: str | None = None) -> list[NangoConnectionRef]:
        """Connections without credentials, optionally only those of one end user."""
        params = {"endUserId": end_user_id} if end_user_id is not None else None
        answer = await self._call("GET", "/connections", "list connections", params=params)
        try:
            items = answer.get("connections")
            if not isinstance(items, list):
                raise _Malformed
            refs = []
            for item in items:
                if not isinstance(item, dict):
                    raise _Malformed
                refs.append(
                    NangoConnectionRef(
                        connection_id=_str(item, "connection_id"),
                        provider_config_key=_str(item, "provider_config_key"),
                        provider=_str(item, "provider"),
                        end_user_id=_end_user_id(item),
                    )
                )
            return refs
        except _Malformed:
            raise _invalid_response("list connections") from None

    async def delete_connection(self, connection_id: str, provider_config_key: str) -> None:
        params = {"provider_config_key": provider_config_key}
        path = _connection_path(connection_id)
        await self._call("DELETE", path, "delete a connection", params=params, connection=True)

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        connection: bool = False,
    ) -> dict[str, Any]:
        try:
            response = await self.client.request(method, path, params=params, json=json)
        except httpx2.TimeoutException:
            raise _unavailable("the Nango server did not answer in time") from None
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            raise _unavailable(f"the Nango server is unreachable ({type(exc).__name__})") from None
        status = response.status_code
        if status >= 500:
            raise _unavailable(f"the Nango server failed with status {status}")
        if status in (401, 403):
            raise FatalError(
                f"the Nango server refused the secret key (status {status})",
                code="nango.unauthorized",
                remediation="Check SWITCHYARD_NANGO_SECRET_KEY",
            )
        if status == 404 and connection:
            raise NotFound("Nango has no such connection", code="nango.connection_not_found")
        if 400 <= status < 500:
            nango_code, message = self._error_of(response)
            raise InvalidInput(
                f"Nango refused to {what}: {message or f'status {status}'}",
                code="nango.rejected",
                extra={"nango_status": status, "nango_code": nango_code},
            )
        if not 200 <= status < 300:
            raise _invalid_response(f"{what} (status {status})")
        try:
            body = response.json()
        except ValueError:
            raise _invalid_response(what) from None
        if not isinstance(body, dict):
            raise _invalid_response(what)
        return body

    def _error_of(self, response: httpx2.Response) -> tuple[str | None, str | None]:
        """Nango's error code and message, from ``{"error": {"code", "message"}}`` or older shapes."""
        try:
            body = response.json()
        except ValueError:
            return None, None
        if not isinstance(body, dict):
            return None, None
        error = body.get("error")
        code: Any = None
        message: Any = body.get("message")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message") or message
        elif isinstance(error, str):
            message = message or error
        code = code if isinstance(code, str) else None
        if not isinstance(message, str):
            message = code
        if message is not None:
            message = message.replace(self._secret_key, "[redacted]")[:_MESSAGE_LIMIT]
        return code, message


def _connection_path(connection_id: str) -> str:
    if connection_id in {"", ".", ".."}:
        raise InvalidInput(f"{connection_id!r} is not a Nango connection id", code="nango.rejected")
    return "/connections/" + quote(connection_id, safe="")


def _bad_url() -> SwitchyardError:
    return ConfigurationError(
        "SWITCHYARD_NANGO_URL must be an https URL (http only on loopback)",
        code="config.nango_url_invalid",
        remediation="The Nango secret key must not travel in clear.",
    )


def _unavailable(detail: str) -> SwitchyardError:
    return Unavailable(detail, code="nango.unavailable", remediation=_RETRY_LATER)


def _invalid_response(what: str) -> SwitchyardError:
    return FatalError(
        f"the Nango server's answer to '{what}' is not in Nango's documented shape",
        code="nango.invalid_response",
        remediation="Check that SWITCHYARD_NANGO_URL points at a Nango server (its API root).",
    )


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _Malformed
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _Malformed
    return value


def _obj(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise _Malformed
    return value


def _opt_obj(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {} if obj.get(key) is None else _obj(obj, key)


def _time(obj: Mapping[str, Any], key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(_str(obj, key))
    except ValueError:
        raise _Malformed from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _end_user_id(obj: Mapping[str, Any]) -> str | None:
    """``end_user.id``, or the ``end_user_id`` tag that newer Nango versions use instead."""
    end_user = obj.get("end_user")
    if end_user is not None:
        if not isinstance(end_user, dict):
            raise _Malformed
        return _str(end_user, "id")
    tags = obj.get("tags")
    if isinstance(tags, dict) and isinstance(tags.get("end_user_id"), str):
        return str(tags["end_user_id"])
    return None
