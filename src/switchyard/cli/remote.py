"""The CLI's HTTP client for a Switchyard server's package API (``/api/v1/packages``), over httpx2.

Nothing of httpx2 leaves this module: an error answer (RFC 9457 ``application/problem+json``) becomes the
``SwitchyardError`` its status stands for, carrying the server's ``code``, ``detail`` and ``remediation``, so
the CLI prints it like any local error; a server that cannot be reached, or that times out, is
``Unavailable`` (``cli.server_unreachable``, ``cli.server_timeout``); an answer that is not what a Switchyard
server sends is ``cli.bad_response``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx2

from switchyard.cli.profiles import Profile
from switchyard.core.errors import (
    ClientError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SwitchyardError,
    Unauthenticated,
    Unavailable,
)
from switchyard.core.packages import package_filename

API = "/api/v1/packages"
TIMEOUT_SECONDS = 120.0  # an upload is checked (code in the sandbox) before the server answers
_STATUS_ERRORS: dict[int, type[SwitchyardError]] = {
    400: ClientError,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
}
_FILENAME = re.compile(r'filename="?([^";]+)"?')
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,200}")
OnBytes = Callable[[int], None]


@dataclass(frozen=True)
class Download:
    data: bytes
    sha256: str
    filename: str | None  # from Content-Disposition


def quoted(name: str) -> str:
    return quote(name, safe="")


def error_from(response: httpx2.Response, url: str) -> SwitchyardError:
    """The error an error answer stands for, with the server's code, detail and remediation."""
    status = response.status_code
    problem = _problem(response)
    code = _text(problem.get("code")) or f"http.{status}"
    detail = (
        _text(problem.get("detail"))
        or _text(problem.get("title"))
        or f"{url} answered {status} {response.reason_phrase}".strip()
    )
    remediation = _text(problem.get("remediation"))
    extra = {key: value for key, value in problem.items() if key in ("errors", "problems")}
    if status == 401 and remediation is None:
        remediation = "Check the API key, or run `switchyard login` again."
    if status == 429:
        seconds = _float(response.headers.get("retry-after")) or 1.0
        return RateLimited(detail, retry_after=seconds, code=code)
    if status >= 500:
        return Unavailable(
            detail, code=code, remediation=remediation or "Try again later; see the server's logs."
        )
    kind = _STATUS_ERRORS.get(status, ClientError)
    return kind(detail, code=code, remediation=remediation, extra=extra or None)


def problems_of(error: SwitchyardError) -> list[str]:
    """The per-file or per-field problems a validation error lists, as lines."""
    listed = error.extra.get("errors") or error.extra.get("problems") or []
    lines: list[str] = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict):
            where = item.get("path") or item.get("field") or item.get("file") or ""
            message = item.get("message") or item.get("rule") or item.get("detail") or json_text(item)
            line = item.get("line")
            location = f"{where}:{line}" if where and line else str(where)
            lines.append(f"{location}: {message}" if location else str(message))
        else:
            lines.append(str(item))
    return lines


def package_file(name: str, version: str) -> str:
    """The seed's NAME-vVERSION.zip, refused when a server's name or version would leave the directory."""
    return safe_filename(package_filename(name, version))


def safe_filename(filename: str) -> str:
    """A file name a server gave, refused (``cli.bad_response``) unless it is a plain file name."""
    if not _SAFE_FILENAME.fullmatch(filename):
        raise Unavailable(
            f"the server named a file {filename!r}, which is not a plain file name",
            code="cli.bad_response",
            remediation="Check that --api-url points at a Switchyard server you trust.",
        )
    return filename


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class Remote:
    """One server, one API key; use as ``async with Remote(profile) as remote:``."""

    def __init__(
        self,
        profile: Profile,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = profile.api_url
        self._client = httpx2.AsyncClient(
            base_url=profile.api_url,
            headers={"Authorization": f"Bearer {profile.token}", "Accept": "application/json"},
            timeout=httpx2.Timeout(timeout, connect=10.0),
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Remote:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def packages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = _field(await self._json("GET", API), "packages", list)
        return found

    async def package(self, name: str) -> dict[str, Any]:
        return await self._json("GET", f"{API}/{quoted(name)}")

    async def versions(self, name: str) -> list[dict[str, Any]]:
        """Newest first."""
        found: list[dict[str, Any]] = _field(
            await self._json("GET", f"{API}/{quoted(name)}/versions"), "versions", list
        )
        return found

    async def upload(self, data: bytes, filename: str, *, force: bool = False) -> dict[str, Any]:
        """``{"package": Package, "version": PackageVersion}``."""
        form = {"force": "true"} if force else {}
        files = {"file": (filename, data, "application/zip")}
        return await self._json("POST", API, files=files, data=form)

    async def rollback(self, name: str, version: str) -> dict[str, Any]:
        return await self._json("POST", f"{API}/{quoted(name)}/rollback", json={"version": version})

    async def delete(self, name: str) -> None:
        await self._send("DELETE", f"{API}/{quoted(name)}")

    async def tenant(self) -> dict[str, Any] | None:
        """The key's tenant (``/api/v1/tenants/me``), or None when the server does not say."""
        try:
            return await self._json("GET", "/api/v1/tenants/me")
        except (ClientError, Unauthenticated, Forbidden):
            return None

    async def download(
        self, name: str, version: str | None = None, *, on_bytes: OnBytes | None = None
    ) -> Download:
        """The archive's bytes, checked against the server's ``X-Package-Sha256``."""
        params = {"version": version} if version else None
        path = f"{API}/{quoted(name)}/download"
        chunks: list[bytes] = []
        digest = hashlib.sha256()
        try:
            async with self._client.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from(response, self._where(path))
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    digest.update(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                expected = response.headers.get("x-package-sha256")
                disposition = response.headers.get("content-disposition", "")
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        sha256 = digest.hexdigest()
        if expected and expected.lower() != sha256:
            raise Unavailable(
                f"the download of {name} was corrupted: sha256 {sha256}, the server says {expected}",
                code="cli.download_corrupted",
                remediation="Download it again.",
            )
        match = _FILENAME.search(disposition)
        filename = match.group(1).rsplit("/", 1)[-1] if match else None
        return Download(b"".join(chunks), sha256, filename)

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._send(method, path, **kwargs)
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise _bad_response(self._where(path))
        return document

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        except httpx2.InvalidURL as exc:
            raise InvalidInput(
                f"invalid server URL {self.api_url!r}: {exc}", code="cli.invalid_api_url"
            ) from None
        if response.status_code >= 400:
            raise error_from(response, self._where(path))
        return response

    def _where(self, path: str) -> str:
        return self.api_url + path

    def _unreachable(self, exc: Exception) -> Unavailable:
        if isinstance(exc, httpx2.TimeoutException):
            return Unavailable(
                f"{self.api_url} did not answer in time",
                code="cli.server_timeout",
                remediation="Check that the server is up, then try again.",
            )
        reason = str(exc) or type(exc).__name__
        return Unavailable(
            f"cannot reach a Switchyard server at {self.api_url}: {reason}",
            code="cli.server_unreachable",
            remediation="Check --api-url (or the profile's URL) and that the server is running.",
        )


def _problem(response: httpx2.Response) -> dict[str, Any]:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/problem+json", "application/json"):
        return {}
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if not isinstance(value, kind):
        raise _bad_response(f"the {name!r} field")
    return value


def _bad_response(where: str) -> Unavailable:
    return Unavailable(
        f"unexpected answer from {where}: not what a Switchyard server sends",
        code="cli.bad_response",
        remediation="Check that --api-url points at a Switchyard server (and the same version as this CLI).",
    )
